#!/usr/bin/env python3
"""Deterministic mock LLM server for PROFILE's tests (see README.md here).

Speaks three wire formats at their real paths:

* OpenAI Chat Completions: POST .../chat/completions (e.g. /v1/chat/completions)
* Anthropic Messages:      POST /v1/messages
* Google Gemini:           POST /v1beta/models/{model}:generateContent

Replies are derived from the request alone (schema, prompt text, flags), so the
same request always gets the same reply. Faults (429, 5xx, timeouts, malformed
or truncated bodies, wrong shapes, prose around JSON, ...) are scripted with a
JSON fault plan (--faults FILE or POST /__faults). GET /__stats counts requests.

Python 3 standard library only. Usage:

    python3 server.py PORT [--faults plan.json] [--require-key KEY]
                           [--latency-ms N] [--verbose]

PORT 0 picks a free port; the first line on stdout is always
"listening on PORT".
"""

import argparse
import hashlib
import json
import math
import random
import re
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------

#: Request headers a browser may send cross-origin (answer to CORS preflight).
CORS_ALLOW_HEADERS = ", ".join([
    "authorization",
    "content-type",
    "x-api-key",
    "anthropic-version",
    "anthropic-beta",
    "anthropic-dangerous-direct-browser-access",
    "x-goog-api-key",
    "x-goog-api-client",
    "openai-organization",
    "openai-project",
])

#: Response headers a browser script may read.
CORS_EXPOSE_HEADERS = "retry-after, retry-after-ms, date, x-mock-request-index, x-mock-fault"

#: Fault kinds understood in a fault plan.
FAULT_KINDS = [
    "429", "429_date", "500", "503", "529", "401", "400", "timeout", "disconnect",
    "malformed", "envelope", "truncated", "wrong_shape", "bad_json",
    "prose_fences", "refusal", "huge",
]

#: Kinds drawn by a "rate" plan when it names none.
DEFAULT_RATE_KINDS = ["429", "500", "timeout", "malformed", "truncated",
                      "wrong_shape", "prose_fences"]

#: Keys Gemini's responseSchema accepts (OpenAPI 3.0 subset).
GEMINI_SCHEMA_KEYS = {
    "type", "format", "title", "description", "nullable", "enum", "maxItems",
    "minItems", "properties", "required", "minProperties", "maxProperties",
    "minLength", "maxLength", "pattern", "example", "anyOf",
    "propertyOrdering", "default", "items", "minimum", "maximum",
}

SECRET_HEADERS = {"authorization", "x-api-key", "x-goog-api-key", "api-key"}

GEMINI_PATH = re.compile(r"^/v1(?:beta)?/models/([^/:]+):generateContent$")


def approx_tokens(text):
    """Characters / 4, rounded up: the same rule as estimate_tokens in Rust."""
    return (len(text) + 3) // 4


# --------------------------------------------------------------------------
# Shared state
# --------------------------------------------------------------------------

class State:
    """Fault plan, canned replies and counters, guarded by one lock."""

    def __init__(self, plan=None, require_key=None, latency_ms=0):
        self.lock = threading.Lock()
        self.require_key = require_key
        self.latency_ms = latency_ms
        self.plan = plan or {}
        self.replies = []
        self.reset()

    def reset(self):
        with self.lock:
            self.index = 0
            self.by_path = {}
            self.by_format = {}
            self.faulted = {}
            self.ok = 0
            self.rejected = 0
            self.success_keys = {}
            self.recent = []

    def next_index(self, path, fmt):
        with self.lock:
            i = self.index
            self.index += 1
            self.by_path[path] = self.by_path.get(path, 0) + 1
            self.by_format[fmt] = self.by_format.get(fmt, 0) + 1
            return i

    def record(self, path, headers, body):
        red = {k.lower(): ("[redacted]" if k.lower() in SECRET_HEADERS else v)
               for k, v in headers.items()}
        with self.lock:
            self.recent.append({"path": path, "headers": red, "body": body})
            del self.recent[:-50]

    def note_fault(self, kind):
        with self.lock:
            self.faulted[kind] = self.faulted.get(kind, 0) + 1

    def note_rejected(self):
        with self.lock:
            self.rejected += 1

    def note_success(self, key):
        with self.lock:
            self.ok += 1
            self.success_keys[key] = self.success_keys.get(key, 0) + 1

    def stats(self):
        with self.lock:
            return {
                "total": self.index,
                "by_path": dict(self.by_path),
                "by_format": dict(self.by_format),
                "ok": self.ok,
                "faulted": dict(self.faulted),
                "faulted_total": sum(self.faulted.values()),
                "rejected": self.rejected,
                "distinct_successes": len(self.success_keys),
                "repeated_successes": sum(n - 1 for n in self.success_keys.values()),
            }

    def fault_for(self, i):
        """The fault kind for request index i, or None (deterministic)."""
        plan = self.plan
        seq = plan.get("sequence")
        if isinstance(seq, list) and i < len(seq):
            kind = seq[i]
            return None if kind in (None, "", "ok") else str(kind)
        rate = float(plan.get("rate", 0) or 0)
        if rate > 0:
            kinds = plan.get("kinds") or DEFAULT_RATE_KINDS
            rng = random.Random("%s:%d" % (plan.get("seed", 0), i))
            if rng.random() < rate:
                return str(kinds[rng.randrange(len(kinds))])
        return None


# --------------------------------------------------------------------------
# Reading requests of each format
# --------------------------------------------------------------------------

def text_of(content):
    """Text of a message content: a string or a list of text blocks/parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


class Call:
    """What a request asks for, independent of the wire format."""

    def __init__(self, fmt):
        self.fmt = fmt
        self.model = ""
        self.system = ""
        self.user = ""
        self.schema = None
        self.schema_name = None
        self.json_mode = False
        self.logprobs = False
        self.top_logprobs = 0
        self.max_tokens = None


def read_openai(body):
    c = Call("openai")
    c.model = body.get("model") or ""
    for m in body.get("messages") or []:
        role = m.get("role")
        if role in ("system", "developer"):
            c.system += text_of(m.get("content"))
        elif role == "user":
            c.user += text_of(m.get("content"))
    rf = body.get("response_format") or {}
    if rf.get("type") == "json_schema":
        js = rf.get("json_schema") or {}
        c.schema = js.get("schema")
        c.schema_name = js.get("name")
    elif rf.get("type") == "json_object":
        c.json_mode = True
    c.logprobs = bool(body.get("logprobs"))
    c.top_logprobs = int(body.get("top_logprobs") or 0)
    c.max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    return c


def read_anthropic(body):
    c = Call("anthropic")
    c.model = body.get("model") or ""
    c.system = text_of(body.get("system"))
    for m in body.get("messages") or []:
        if m.get("role") == "user":
            c.user += text_of(m.get("content"))
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "tool":
        for tool in body.get("tools") or []:
            if tool.get("name") == choice.get("name"):
                c.schema = tool.get("input_schema")
                c.schema_name = tool.get("name")
    c.max_tokens = body.get("max_tokens")
    return c


def read_gemini(body, model):
    c = Call("gemini")
    c.model = model
    c.system = text_of((body.get("systemInstruction") or {}).get("parts"))
    for content in body.get("contents") or []:
        if content.get("role", "user") == "user":
            c.user += text_of(content.get("parts"))
    gen = body.get("generationConfig") or {}
    c.schema = gen.get("responseSchema") or gen.get("responseJsonSchema")
    c.json_mode = c.schema is None and gen.get("responseMimeType") == "application/json"
    c.logprobs = bool(gen.get("responseLogprobs"))
    c.top_logprobs = int(gen.get("logprobs") or 0)
    c.max_tokens = gen.get("maxOutputTokens")
    return c


# --------------------------------------------------------------------------
# Request checks (what the real APIs reject)
# --------------------------------------------------------------------------

def strict_problem(schema, path="#"):
    """First violation of OpenAI's strict-mode object rules, or None."""
    if not isinstance(schema, dict):
        return None
    t = schema.get("type")
    is_obj = t == "object" or (isinstance(t, list) and "object" in t) or (
        t is None and "properties" in schema)
    if is_obj:
        if schema.get("additionalProperties") is not False:
            return "%s: 'additionalProperties' is required to be supplied and to be false" % path
        props = schema.get("properties") or {}
        req = schema.get("required") or []
        missing = [k for k in props if k not in req]
        if missing:
            return "%s: 'required' is required to include every property; missing %s" % (
                path, missing[0])
    for k, sub in (schema.get("properties") or {}).items():
        p = strict_problem(sub, "%s/properties/%s" % (path, k))
        if p:
            return p
    items = schema.get("items")
    for sub in (items if isinstance(items, list) else [items]):
        p = strict_problem(sub, path + "/items")
        if p:
            return p
    for key in ("anyOf", "oneOf", "allOf"):
        for j, sub in enumerate(schema.get(key) or []):
            p = strict_problem(sub, "%s/%s/%d" % (path, key, j))
            if p:
                return p
    return None


def gemini_schema_problem(schema, path="generation_config.response_schema"):
    """First key Gemini's responseSchema would reject, or None."""
    if not isinstance(schema, dict):
        return None
    for k in schema:
        if k not in GEMINI_SCHEMA_KEYS:
            return 'Invalid JSON payload received. Unknown name "%s" at \'%s\': Cannot find field.' % (k, path)
    for k, sub in (schema.get("properties") or {}).items():
        p = gemini_schema_problem(sub, "%s.properties[%s].value" % (path, k))
        if p:
            return p
    if isinstance(schema.get("items"), dict):
        p = gemini_schema_problem(schema["items"], path + ".items")
        if p:
            return p
    for j, sub in enumerate(schema.get("anyOf") or []):
        p = gemini_schema_problem(sub, "%s.any_of[%d]" % (path, j))
        if p:
            return p
    return None


def check_request(fmt, body, headers):
    """A reason the real API would answer 400, or None."""
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    if fmt == "openai":
        if not body.get("model"):
            return "you must provide a model parameter"
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return "'messages' must be a non-empty array"
        rf = body.get("response_format") or {}
        if rf.get("type") == "json_schema":
            js = rf.get("json_schema") or {}
            if not js.get("name") or not re.match(r"^[A-Za-z0-9_-]{1,64}$", js["name"]):
                return "Invalid 'response_format.json_schema.name'"
            if js.get("strict"):
                p = strict_problem(js.get("schema"))
                if p:
                    return "Invalid schema for response_format '%s': %s" % (js["name"], p)
        if rf.get("type") == "json_object":
            text = json.dumps(body.get("messages")).lower()
            if "json" not in text:
                return "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'."
        if body.get("top_logprobs") and not body.get("logprobs"):
            return "logprobs must be true when top_logprobs is set"
    elif fmt == "anthropic":
        if not headers.get("anthropic-version"):
            return "anthropic-version: header is required"
        if not body.get("model"):
            return "model: Field required"
        if not isinstance(body.get("max_tokens"), int):
            return "max_tokens: Field required"
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            return "messages: Field required"
        if any(m.get("role") == "system" for m in msgs):
            return 'Unexpected role "system". The Messages API accepts a top-level `system` parameter, not "system" as an input message role.'
        if "temperature" in body and "top_p" in body:
            return "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
        for tool in body.get("tools") or []:
            if (tool.get("input_schema") or {}).get("type") != "object":
                return "tools.0.custom.input_schema.type: Input should be 'object'"
    elif fmt == "gemini":
        if not isinstance(body.get("contents"), list) or not body["contents"]:
            return "* GenerateContentRequest.contents: contents is not specified"
        gen = body.get("generationConfig") or {}
        if "responseSchema" in gen:
            p = gemini_schema_problem(gen["responseSchema"])
            if p:
                return p
    return None


def key_of(fmt, headers, query):
    if fmt == "openai":
        auth = headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else None
    if fmt == "anthropic":
        return headers.get("x-api-key")
    return headers.get("x-goog-api-key") or query.get("key")


# --------------------------------------------------------------------------
# Synthesising replies
# --------------------------------------------------------------------------

SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")
TAGGED = re.compile(r"<([A-Za-z_][\w-]*)[^>]*>(.*?)</\1\s*>", re.S)
FENCES = [
    re.compile(r'"""(.*?)"""', re.S),
    re.compile(r"```[\w-]*\n(.*?)```", re.S),
    re.compile(r"<<<(.*?)>>>", re.S),
]
NUMBERED = re.compile(r"^\s*(?:\[\d+\]|\d+[.):])\s+(\S.*)$", re.M)
LABELLED_BLOCK = re.compile(r"^<<<([A-Z][A-Z0-9_]*)\n(.*?)\n\1>>>$", re.M | re.S)
#: Free-text prompts that ask for two yes/no words (fluency_coherence@1).
TWO_WORDS = re.compile(r"\btwo words\b", re.I)


def delimited_text(user):
    """The text a prompt works on: the last <tag>...</tag> block, else the last
    triple-quoted, fenced or <<<...>>> block, else the whole user message."""
    blocks = TAGGED.findall(user)
    if blocks:
        return blocks[-1][1].strip()
    for pattern in FENCES:
        found = pattern.findall(user)
        if found:
            return found[-1].strip()
    return user.strip()


def sentences(text):
    out = [s.strip() for s in SENTENCE.findall(text)]
    out = [s for s in out if len(s) > 1 and any(ch.isalnum() for ch in s)]
    return out or ["This is a mock statement."]


def listed_items(user):
    """The items a prompt lists for checking: lines of a <facts>/<statements>/
    <claims> block, else numbered lines, else the last JSON array of strings."""
    for tag, inner in TAGGED.findall(user):
        if any(w in tag.lower() for w in ("fact", "statement", "claim")):
            lines = [NUMBERED.sub(r"\1", ln).strip() for ln in inner.splitlines()]
            lines = [ln.lstrip("-*• ").strip() for ln in lines]
            lines = [ln for ln in lines if ln]
            if lines:
                return lines
    numbered = NUMBERED.findall(user)
    if numbered:
        return [n.strip() for n in numbered]
    for m in reversed(list(re.finditer(r"\[\s*\"(?:[^\"\\]|\\.)*\"(?:\s*,\s*\"(?:[^\"\\]|\\.)*\")*\s*\]", user))):
        try:
            arr = json.loads(m.group(0))
            if arr:
                return [str(a) for a in arr]
        except ValueError:
            pass
    return []


def labelled_lists(user):
    """Numbered lines of each <<<LABEL ... LABEL>>> block, by label (upper case),
    for blocks that hold numbered lines."""
    out = {}
    for label, inner in LABELLED_BLOCK.findall(user):
        lines = [n.strip() for n in NUMBERED.findall(inner)]
        if lines:
            out[label] = lines
    return out


class Ctx:
    def __init__(self, call):
        self.call = call
        self.text = delimited_text(call.user)
        self.sentences = sentences(self.text)
        self.items = listed_items(call.user)
        self.lists = labelled_lists(call.user)


def increasing_texts(ctx, n):
    """n texts, each one sentence longer than the one before."""
    sents = ctx.sentences
    return [" ".join(sents[j % len(sents)] for j in range(k + 1)) for k in range(n)]


def resolve(schema, root):
    ref = schema.get("$ref") if isinstance(schema, dict) else None
    if isinstance(ref, str) and ref.startswith("#/"):
        node = root
        for part in ref[2:].split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return node
    return schema


def schema_type(schema):
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "null")
    if isinstance(t, str):
        t = t.lower()
    if t is None:
        if "properties" in schema:
            t = "object"
        elif "items" in schema:
            t = "array"
        elif "enum" in schema or "const" in schema:
            t = "string"
    return t


def pick_enum(values):
    """'yes', else 'aligned', else '1', else the first value."""
    lowered = [str(v).lower() for v in values]
    for want in ("yes", "aligned", "1"):
        if want in lowered:
            return values[lowered.index(want)]
    return values[0] if values else None


def bounded(n, schema):
    lo = schema.get("minItems")
    hi = schema.get("maxItems")
    if lo is not None:
        n = max(n, int(lo))
    if hi is not None:
        n = min(n, int(hi))
    return n


GEN_KEYS = ("response", "responses", "text", "texts", "generation", "generations",
            "candidate", "candidates", "output", "outputs")


def synth(schema, ctx, root, key="", index=None):
    """A value following `schema`, derived from the prompt (README: replies)."""
    schema = resolve(schema, root)
    if not isinstance(schema, dict):
        return None
    for alt_key in ("anyOf", "oneOf"):
        alts = schema.get(alt_key)
        if alts:
            alt = next((a for a in alts if schema_type(resolve(a, root)) != "null"), alts[0])
            return synth(alt, ctx, root, key, index)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return pick_enum(schema["enum"])
    t = schema_type(schema)
    k = key.lower()
    if t == "object":
        props = schema.get("properties") or {}
        return {name: synth(sub, ctx, root, name, index) for name, sub in props.items()}
    if t == "array":
        items = schema.get("items") or {}
        if isinstance(items, list):
            items = items[0] if items else {}
        item = resolve(items, root)
        fixed = schema.get("minItems") is not None and schema.get("minItems") == schema.get("maxItems")
        if schema_type(item) == "string" and "enum" not in item:
            if fixed or k in GEN_KEYS:
                n = bounded(5, schema)
                return increasing_texts(ctx, n)
            sents = ctx.sentences
            n = bounded(len(sents), schema)
            return [sents[j] if j < len(sents) else "Mock statement %d." % (j + 1) for j in range(n)]
        if fixed:
            n = bounded(1, schema)
        elif k in GEN_KEYS:
            n = bounded(5, schema)
        elif key.upper() in ctx.lists:
            # One item per numbered line of the block named like the key
            # (fact_checks@1: "response_facts" <- <<<RESPONSE_FACTS).
            n = bounded(len(ctx.lists[key.upper()]), schema)
        else:
            n = bounded(len(ctx.items) or len(ctx.sentences) or 1, schema)
        return [synth(item, ctx, root, key, j) for j in range(n)]
    if t == "string":
        if index is not None and any(w in k for w in ("fact", "statement", "claim")):
            if index < len(ctx.items):
                return ctx.items[index]
            return ctx.sentences[index % len(ctx.sentences)]
        if index is not None and any(g in k for g in GEN_KEYS):
            return increasing_texts(ctx, index + 1)[-1]
        if any(w in k for w in ("justification", "reason", "explanation", "rationale")):
            return "Mock justification."
        return "mock %s" % (key or "value")
    if t in ("integer", "number"):
        if index is not None and any(w in k for w in ("score", "rating")):
            v = index + 1
            if schema.get("minimum") is not None:
                v = max(v, schema["minimum"])
            if schema.get("maximum") is not None:
                v = min(v, schema["maximum"])
            return v
        if index is not None and ("idx" in k or "index" in k or k in ("id", "i", "n")):
            # Numbered from the schema's minimum (our fact ids start at 1).
            return index + int(schema.get("minimum") or 0)
        for bound in ("maximum", "minimum"):
            if schema.get(bound) is not None:
                return schema[bound]
        return 1
    if t == "boolean":
        return True
    if t == "null":
        return None
    return None


def is_yes_no(call):
    prompt = call.system + "\n" + call.user
    return call.logprobs or re.search(r"\byes\b[^\n]{0,40}\bno\b", prompt, re.I) is not None


def reply_for(call, state):
    """(value, is_json): the reply before any fault or wire format."""
    haystack = call.system + "\n" + call.user
    with state.lock:
        replies = list(state.replies)
    for r in replies:
        m = r.get("match", "")
        if m == call.schema_name or (m and m in haystack):
            if "json" in r:
                return r["json"], True
            return str(r.get("text", "")), False
    ctx = Ctx(call)
    if call.schema is not None:
        return synth(call.schema, ctx, call.schema), True
    if call.json_mode:
        return {"answer": "yes" if is_yes_no(call) else ctx.sentences[0]}, True
    if TWO_WORDS.search(call.system + "\n" + call.user) and is_yes_no(call):
        return "Yes No", False
    if is_yes_no(call):
        return "Yes", False
    return ctx.sentences[0], False


# --------------------------------------------------------------------------
# Logprobs
# --------------------------------------------------------------------------

TOKEN = re.compile(r"\s*[A-Za-z0-9]+|\s*[^\sA-Za-z0-9]|\s+$")


def tokens(text):
    return TOKEN.findall(text) or [text]


def first_token_alternatives(first):
    """Fixed alternatives of the first token (natural logs, best first)."""
    word = first.strip().lower()
    if word in ("yes", "no"):
        return yes_no_alternatives(first)
    return [(first, math.log(0.99)), ("```", math.log(0.005)), ("Sure", math.log(0.002)),
            ("Here", math.log(0.001)), (" ", math.log(0.001))]


def yes_no_alternatives(tok):
    """Fixed alternatives of a yes/no token at any position: the token 0.9,
    the other answer 0.08, the token in the other case 0.01, the token with
    (or without) a leading space 0.005, "The" 0.002."""
    lead = tok[: len(tok) - len(tok.lstrip())]
    bare = tok.strip()
    other = "No" if bare.lower() == "yes" else "Yes"
    if bare == bare.lower():
        other = other.lower()
    other_case = bare.lower() if bare != bare.lower() else bare.capitalize()
    spaced = bare if lead else " " + bare
    return [(tok, math.log(0.9)), (lead + other, math.log(0.08)),
            (lead + other_case, math.log(0.01)), (spaced, math.log(0.005)),
            ("The", math.log(0.002))]


def token_alternatives(j, tok):
    """Alternatives of token j: the first token's fixed set, the yes/no set
    for a later yes/no token, else the token alone at logprob -0.01."""
    if j == 0:
        return first_token_alternatives(tok)
    if tok.strip().lower() in ("yes", "no"):
        return yes_no_alternatives(tok)
    return [(tok, -0.01)]


# --------------------------------------------------------------------------
# Wire formats of replies
# --------------------------------------------------------------------------

def usage_counts(call, text):
    schema = json.dumps(call.schema) if call.schema is not None else ""
    return approx_tokens(call.system + call.user + schema) + 10, approx_tokens(text)


def openai_reply(call, text, finish="stop", refusal=None, index=0):
    inp, out = usage_counts(call, text)
    message = {"role": "assistant", "content": None if refusal else text, "refusal": refusal}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
    if call.logprobs and not refusal:
        n = max(0, min(call.top_logprobs, 20))
        toks = tokens(text)
        content = []
        for j, tok in enumerate(toks):
            alts = token_alternatives(j, tok)
            content.append({
                "token": tok,
                "logprob": alts[0][1],
                "bytes": list(tok.encode("utf-8")),
                "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode("utf-8"))}
                                 for t, lp in alts[:n]],
            })
        choice["logprobs"] = {"content": content, "refusal": None}
    return {
        "id": "chatcmpl-mock%06d" % index,
        "object": "chat.completion",
        "created": 1700000000,
        "model": call.model,
        "choices": [choice],
        "usage": {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out},
        "system_fingerprint": "fp_mock",
    }


def anthropic_reply(call, value, is_json, as_tool, stop="end_turn", index=0):
    if as_tool:
        block = {"type": "tool_use", "id": "toolu_mock%06d" % index,
                 "name": call.schema_name, "input": value}
        text = json.dumps(value)
        stop = "tool_use" if stop == "end_turn" else stop
    else:
        text = json.dumps(value) if is_json else value
        block = {"type": "text", "text": text}
    inp, out = usage_counts(call, text)
    return {
        "id": "msg_mock%06d" % index,
        "type": "message",
        "role": "assistant",
        "model": call.model,
        "content": [block] if (as_tool or text) else [],
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": inp, "output_tokens": out,
                  "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }


def gemini_reply(call, text, finish="STOP", index=0):
    inp, out = usage_counts(call, text or "")
    cand = {"finishReason": finish, "index": 0}
    if text is not None:
        cand["content"] = {"role": "model", "parts": [{"text": text}]}
    if call.logprobs and text:
        n = max(0, min(call.top_logprobs, 20))
        toks = tokens(text)
        top, chosen = [], []
        for j, tok in enumerate(toks):
            alts = token_alternatives(j, tok)
            top.append({"candidates": [{"token": t, "logProbability": lp} for t, lp in alts[:max(n, 1)]]})
            chosen.append({"token": tok, "logProbability": alts[0][1]})
        cand["logprobsResult"] = {"topCandidates": top, "chosenCandidates": chosen}
        cand["avgLogprobs"] = sum(c["logProbability"] for c in chosen) / len(chosen)
    return {
        "candidates": [cand],
        "usageMetadata": {"promptTokenCount": inp, "candidatesTokenCount": out,
                          "totalTokenCount": inp + out},
        "modelVersion": call.model,
        "responseId": "mock%06d" % index,
    }


def error_body(fmt, status, message):
    if fmt == "anthropic":
        kind = {400: "invalid_request_error", 401: "authentication_error",
                403: "permission_error", 404: "not_found_error",
                429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message},
                "request_id": "req_mock"}
    if fmt == "gemini":
        st = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
              404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
              503: "UNAVAILABLE"}.get(status, "UNKNOWN")
        return {"error": {"code": status, "message": message, "status": st}}
    kind = {400: "invalid_request_error", 401: "invalid_request_error",
            429: "rate_limit_exceeded"}.get(status, "server_error")
    code = {401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(status)
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


# --------------------------------------------------------------------------
# HTTP handler
# --------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-llm/1"
    state = None  # set by make_server
    verbose = False

    def log_message(self, fmt, *args):  # noqa: N802 (stdlib name)
        if self.verbose:
            line = re.sub(r"(key=)[^&\s]+", r"\1[redacted]", fmt % args)
            sys.stderr.write("mock_llm: " + line + "\n")

    # ---- plumbing -------------------------------------------------------

    def cors(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS)

    def send_json(self, status, obj, extra=None):
        self.send_raw(status, json.dumps(obj).encode("utf-8"), extra)

    def send_raw(self, status, data, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.cors()
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        try:
            return json.loads(raw.decode("utf-8")) if raw else None, raw
        except (ValueError, UnicodeDecodeError):
            return ValueError, raw

    def lower_headers(self):
        return {k.lower(): v for k, v in self.headers.items()}

    def split_path(self):
        path, _, query = self.path.partition("?")
        params = {}
        for kv in query.split("&"):
            if "=" in kv:
                k, v = kv.split("=", 1)
                params[k] = v
        return path, params

    # ---- verbs ----------------------------------------------------------

    def do_OPTIONS(self):  # noqa: N802
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", CORS_ALLOW_HEADERS)
        self.send_header("Access-Control-Max-Age", "86400")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):  # noqa: N802
        path, _ = self.split_path()
        st = self.state
        if path == "/__stats":
            self.send_json(200, st.stats())
        elif path == "/__faults":
            with st.lock:
                self.send_json(200, st.plan)
        elif path == "/__requests":
            with st.lock:
                self.send_json(200, list(st.recent))
        elif path in ("/health", "/__health"):
            self.send_json(200, {"ok": True})
        else:
            self.send_json(404, {"error": {"message": "not found: " + path}})

    def do_POST(self):  # noqa: N802
        try:
            self.handle_post()
        except Exception as e:  # a mock bug must show, not drop the connection
            self.send_json(500, {"error": {"message": "mock server bug: %r" % (e,)}})

    def handle_post(self):
        path, query = self.split_path()
        st = self.state
        body, raw = self.read_body()
        if path.startswith("/__"):
            return self.control(path, body)
        m = GEMINI_PATH.match(path)
        if path.endswith("/chat/completions"):
            fmt, model = "openai", None
        elif path == "/v1/messages":
            fmt, model = "anthropic", None
        elif m:
            fmt, model = "gemini", m.group(1)
        else:
            return self.send_json(404, {"error": {"message": "no such endpoint: " + path}})

        index = st.next_index(path, fmt)
        headers = self.lower_headers()
        st.record(path, headers, body if body is not ValueError else raw.decode("utf-8", "replace"))
        idx_header = {"x-mock-request-index": str(index)}

        if st.latency_ms:
            time.sleep(st.latency_ms / 1000.0)

        if st.require_key is not None and key_of(fmt, headers, query) != st.require_key:
            st.note_rejected()
            if fmt == "gemini":
                err = error_body(fmt, 400, "API key not valid. Please pass a valid API key.")
                err["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                            "reason": "API_KEY_INVALID"}]
                return self.send_json(400, err, idx_header)
            return self.send_json(401, error_body(fmt, 401, "invalid x-api-key" if fmt == "anthropic"
                                                  else "Incorrect API key provided."), idx_header)

        if body is ValueError:
            st.note_rejected()
            return self.send_json(400, error_body(fmt, 400, "We could not parse the JSON body of your request."), idx_header)
        problem = check_request(fmt, body, headers)
        if problem:
            st.note_rejected()
            return self.send_json(400, error_body(fmt, 400, problem), idx_header)

        if fmt == "openai":
            call = read_openai(body)
        elif fmt == "anthropic":
            call = read_anthropic(body)
        else:
            call = read_gemini(body, model)
        fault = st.fault_for(index)
        if fault:
            st.note_fault(fault)
            idx_header["x-mock-fault"] = fault
            return self.faulted(fault, fmt, call, index, idx_header)

        value, is_json = reply_for(call, st)
        reply = self.envelope(fmt, call, value, is_json, index)
        # Counted before sending, so a client that reads /__stats right after
        # its reply sees it.
        key = hashlib.sha256(path.encode() + b"\0" + json.dumps(body, sort_keys=True).encode()).hexdigest()
        st.note_success(key)
        self.send_json(200, reply, idx_header)

    # ---- replies --------------------------------------------------------

    def envelope(self, fmt, call, value, is_json, index, finish=None):
        text = json.dumps(value) if is_json else value
        if fmt == "openai":
            return openai_reply(call, text, finish or "stop", index=index)
        if fmt == "anthropic":
            as_tool = is_json and call.schema_name is not None and call.schema is not None
            return anthropic_reply(call, value, is_json, as_tool, finish or "end_turn", index)
        return gemini_reply(call, text, finish or "STOP", index)

    def faulted(self, kind, fmt, call, index, extra):
        st = self.state
        plan = st.plan
        retry = plan.get("retry_after", 1)
        if kind in ("429", "429_date"):
            if kind == "429":
                extra["Retry-After"] = str(retry)
            else:
                extra["Retry-After"] = formatdate(time.time() + float(retry), usegmt=True)
            msg = "Rate limit reached for requests. Please try again in %ss." % retry
            return self.send_json(429, error_body(fmt, 429, msg), extra)
        if kind in ("500", "503", "529", "401", "400"):
            status = int(kind)
            msg = {500: "The server had an error while processing your request.",
                   503: "The service is temporarily unavailable.",
                   529: "Overloaded",
                   401: "Incorrect API key provided.",
                   400: "Invalid request (scripted fault)."}[status]
            return self.send_json(status, error_body(fmt, status, msg), extra)
        if kind == "timeout":
            time.sleep(float(plan.get("timeout_s", 10)))
            value, is_json = reply_for(call, st)
            return self.send_json(200, self.envelope(fmt, call, value, is_json, index), extra)
        if kind == "disconnect":
            self.close_connection = True
            return None
        if kind == "huge":
            # A 200 reply of `huge_mb` MiB (default 11): a proper envelope
            # whose text is padding, bigger than a client's reply cap.
            size = int(float(plan.get("huge_mb", 11)) * 1024 * 1024)
            reply = self.envelope(fmt, call, "HUGE" + "x" * size, False, index)
            return self.send_json(200, reply, extra)

        value, is_json = reply_for(call, st)
        text = json.dumps(value) if is_json else value
        if kind == "malformed":
            full = json.dumps(self.envelope(fmt, call, value, is_json, index)).encode("utf-8")
            return self.send_raw(200, full[: len(full) // 2], extra)
        if kind == "envelope":
            return self.send_json(200, {"result": text, "status": "ok"}, extra)
        if kind == "truncated":
            cut = text[: max(1, len(text) // 2)]
            if fmt == "openai":
                return self.send_json(200, openai_reply(call, cut, "length", index=index), extra)
            if fmt == "anthropic":
                if call.schema is not None and call.schema_name and is_json:
                    return self.send_json(200, anthropic_reply(call, {}, True, True, "max_tokens", index), extra)
                return self.send_json(200, anthropic_reply(call, cut, False, False, "max_tokens", index), extra)
            return self.send_json(200, gemini_reply(call, cut, "MAX_TOKENS", index), extra)
        if kind == "wrong_shape":
            wrong = {"unexpected": "shape", "items": 42, "note": "not the requested schema"}
            return self.send_json(200, self.envelope(fmt, call, wrong, True, index), extra)
        if kind == "bad_json":
            cut = text[: max(1, len(text) // 2)] if is_json else "{\"answer\": \"" + text
            return self.send_json(200, self.plain(fmt, call, cut, index), extra)
        if kind == "prose_fences":
            pretty = json.dumps(value, indent=2) if is_json else json.dumps({"answer": value}, indent=2)
            wrapped = ("Sure! Here is the JSON you asked for:\n\n```json\n%s\n```\n\n"
                       "Let me know if you need anything else." % pretty)
            return self.send_json(200, self.plain(fmt, call, wrapped, index), extra)
        if kind == "refusal":
            if fmt == "openai":
                return self.send_json(200, openai_reply(call, "", "stop", "I'm sorry, I can't help with that.", index), extra)
            if fmt == "anthropic":
                return self.send_json(200, anthropic_reply(call, "", False, False, "refusal", index), extra)
            return self.send_json(200, gemini_reply(call, None, "SAFETY", index), extra)
        # Unknown kind: say so loudly rather than guess.
        return self.send_json(500, error_body(fmt, 500, "unknown fault kind %r" % kind), extra)

    def plain(self, fmt, call, text, index):
        """A text reply in the format (Anthropic: a text block, no tool call)."""
        if fmt == "openai":
            return openai_reply(call, text, "stop", index=index)
        if fmt == "anthropic":
            return anthropic_reply(call, text, False, False, "end_turn", index)
        return gemini_reply(call, text, "STOP", index)

    # ---- control endpoints ---------------------------------------------

    def control(self, path, body):
        st = self.state
        if body is ValueError:
            return self.send_json(400, {"error": "body is not JSON"})
        if path == "/__faults":
            plan = body or {}
            if not isinstance(plan, dict):
                return self.send_json(400, {"error": "a fault plan is a JSON object"})
            bad = [k for k in (plan.get("kinds") or []) + [s for s in (plan.get("sequence") or []) if s]
                   if k not in FAULT_KINDS and k != "ok"]
            if bad:
                return self.send_json(400, {"error": "unknown fault kinds: %s" % bad, "known": FAULT_KINDS})
            with st.lock:
                st.plan = plan
            return self.send_json(200, {"ok": True, "plan": plan})
        if path == "/__reset":
            st.reset()
            if isinstance(body, dict) and body.get("all"):
                with st.lock:
                    st.plan = {}
                    st.replies = []
            return self.send_json(200, {"ok": True})
        if path == "/__replies":
            replies = body or []
            if not isinstance(replies, list):
                return self.send_json(400, {"error": "replies are a JSON array"})
            with st.lock:
                st.replies = replies
            return self.send_json(200, {"ok": True, "count": len(replies)})
        return self.send_json(404, {"error": "no such control endpoint: " + path})


def make_server(port, plan=None, require_key=None, latency_ms=0, verbose=False):
    """A ready (not yet serving) server on 127.0.0.1:port and its state."""
    state = State(plan, require_key, latency_ms)
    handler = type("BoundHandler", (Handler,), {"state": state, "verbose": verbose})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    return server, state


def main(argv=None):
    ap = argparse.ArgumentParser(description="Deterministic mock LLM server (OpenAI, Anthropic, Gemini formats).")
    ap.add_argument("port", type=int, help="port on 127.0.0.1; 0 picks a free one")
    ap.add_argument("--faults", help="JSON fault plan file (see README.md)")
    ap.add_argument("--require-key", help="answer 401 (Gemini: 400 API_KEY_INVALID) unless this key is sent")
    ap.add_argument("--latency-ms", type=int, default=0, help="fixed delay before every model reply")
    ap.add_argument("--verbose", action="store_true", help="log requests to stderr (never keys)")
    args = ap.parse_args(argv)
    plan = None
    if args.faults:
        with open(args.faults, encoding="utf-8") as f:
            plan = json.load(f)
    server, _ = make_server(args.port, plan, args.require_key, args.latency_ms, args.verbose)
    print("listening on %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
