#!/usr/bin/env python3
"""Self-test of the mock LLM server: python3 tests/mock_llm/test_server.py

Starts server.py as a subprocess on a free port (port 0) and checks each wire
format, CORS preflight, request checks, canned replies, stats and every fault
kind. Standard library only.
"""

import json
import math
import os
import socket
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request
from email.utils import parsedate_to_datetime

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "server.py")

FACTS_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["facts"],
    "properties": {"facts": {"type": "array", "items": {"type": "string"}}},
}
CHECK_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["checks"],
    "properties": {"checks": {"type": "array", "items": {
        "type": "object", "additionalProperties": False,
        "required": ["fact_idx", "supported"],
        "properties": {"fact_idx": {"type": "integer"},
                       "supported": {"type": "string", "enum": ["no", "yes"]}}}}},
}
GEN_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["responses"],
    "properties": {"responses": {"type": "array", "items": {"type": "string"},
                                 "minItems": 5, "maxItems": 5}},
}
JUDGE_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["better", "justification"],
    "properties": {"better": {"type": "string", "enum": ["2", "1", "tie"]},
                   "justification": {"type": "string"}},
}
TEXT = "Split into facts.\n<text>The sky is blue. Water is wet! Is fire hot?</text>"


def start(*args):
    proc = subprocess.Popen([sys.executable, SERVER, "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        raise RuntimeError("server did not start: %r %s" % (line, proc.stderr.read()))
    return proc, int(line.split()[-1])


class MockCase(unittest.TestCase):
    args = ()

    @classmethod
    def setUpClass(cls):
        cls.proc, cls.port = start(*cls.args)

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(5)
        cls.proc.stdout.close()
        cls.proc.stderr.close()

    def setUp(self):
        self.post("/__reset", {"all": True})

    def request(self, method, path, body=None, headers=None, timeout=5):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path),
                                     data=data, method=method, headers=headers or {})
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
        except urllib.error.HTTPError as e:
            return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()

    def post(self, path, body, headers=None, timeout=5):
        return self.request("POST", path, body, headers, timeout)

    def get_json(self, path):
        status, _, body = self.request("GET", path)
        self.assertEqual(status, 200)
        return json.loads(body)

    # ---- request builders (shapes as src/llm/provider.rs sends them) ----

    def openai(self, user=TEXT, schema=FACTS_SCHEMA, name="atomic_facts", logprobs=False, **kw):
        body = {"model": "gpt-mock", "temperature": 0.6, "top_p": 0.9, "max_completion_tokens": 1024,
                "messages": [{"role": "system", "content": "You are careful."},
                             {"role": "user", "content": user}]}
        if schema is not None:
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": name, "schema": schema, "strict": True}}
        if logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = 5
        body.update(kw)
        return self.post("/v1/chat/completions", body, {"Authorization": "Bearer sk-test"})

    def anthropic(self, user=TEXT, schema=FACTS_SCHEMA, name="atomic_facts", headers=None, **kw):
        body = {"model": "claude-mock", "max_tokens": 1024, "system": "You are careful.",
                "temperature": 0.6, "messages": [{"role": "user", "content": user}]}
        if schema is not None:
            body["tools"] = [{"name": name, "description": "reply", "input_schema": schema}]
            body["tool_choice"] = {"type": "tool", "name": name}
        body.update(kw)
        h = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01",
             "anthropic-dangerous-direct-browser-access": "true"}
        h.update(headers or {})
        return self.post("/v1/messages", body, h)

    def gemini(self, user=TEXT, schema=None, logprobs=False, model="gemini-mock"):
        gen = {"temperature": 0.6, "topP": 0.9, "maxOutputTokens": 1024}
        if schema is not None:
            gen["responseMimeType"] = "application/json"
            gen["responseSchema"] = schema
        if logprobs:
            gen["responseLogprobs"] = True
            gen["logprobs"] = 5
        body = {"systemInstruction": {"parts": [{"text": "You are careful."}]},
                "contents": [{"role": "user", "parts": [{"text": user}]}],
                "generationConfig": gen}
        return self.post("/v1beta/models/%s:generateContent" % model, body,
                         {"x-goog-api-key": "AIza-test"})


GEMINI_FACTS = {"type": "OBJECT", "required": ["facts"], "propertyOrdering": ["facts"],
                "properties": {"facts": {"type": "ARRAY", "items": {"type": "STRING"}}}}


class Formats(MockCase):
    def test_openai_schema_reply(self):
        status, headers, body = self.openai()
        self.assertEqual(status, 200)
        reply = json.loads(body)
        self.assertEqual(reply["object"], "chat.completion")
        choice = reply["choices"][0]
        self.assertEqual(choice["finish_reason"], "stop")
        self.assertEqual(json.loads(choice["message"]["content"]),
                         {"facts": ["The sky is blue.", "Water is wet!", "Is fire hot?"]})
        self.assertGreater(reply["usage"]["prompt_tokens"], 0)
        self.assertGreater(reply["usage"]["completion_tokens"], 0)
        self.assertEqual(headers["access-control-allow-origin"], "*")

    def test_openai_checks_one_per_listed_fact(self):
        user = "Check each fact.\n<context>Some text.</context>\n<facts>\n1. A.\n2. B.\n3. C.\n</facts>"
        _, _, body = self.openai(user, CHECK_SCHEMA, "fact_support")
        content = json.loads(json.loads(body)["choices"][0]["message"]["content"])
        self.assertEqual(content, {"checks": [{"fact_idx": i, "supported": "yes"} for i in range(3)]})

    def test_judge_and_generation(self):
        _, _, body = self.openai("Which is better?", JUDGE_SCHEMA, "judge")
        content = json.loads(json.loads(body)["choices"][0]["message"]["content"])
        self.assertEqual(content["better"], "1")
        _, _, body = self.openai("Write five responses.\n<post>One. Two. Three.</post>", GEN_SCHEMA, "generate")
        texts = json.loads(json.loads(body)["choices"][0]["message"]["content"])["responses"]
        self.assertEqual(len(texts), 5)
        self.assertEqual([len(t) for t in texts], sorted(len(t) for t in texts))
        self.assertEqual(len(set(len(t) for t in texts)), 5)

    def test_generation_as_objects(self):
        schema = {"type": "object", "additionalProperties": False, "required": ["responses"],
                  "properties": {"responses": {"type": "array", "items": {
                      "type": "object", "additionalProperties": False, "required": ["score", "response"],
                      "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5},
                                     "response": {"type": "string"}}}}}}
        _, _, body = self.openai("Write.\n<post>One. Two. Three.</post>", schema, "generate")
        items = json.loads(json.loads(body)["choices"][0]["message"]["content"])["responses"]
        self.assertEqual([it["score"] for it in items], [1, 2, 3, 4, 5])
        self.assertEqual(items[0]["response"], "One.")
        self.assertEqual(items[3]["response"], "One. Two. Three. One.")

    def test_json_mode_and_plain_text(self):
        _, _, body = self.openai("Reply in JSON: is it good? yes or no", None,
                                 response_format={"type": "json_object"})
        self.assertEqual(json.loads(json.loads(body)["choices"][0]["message"]["content"]), {"answer": "yes"})
        _, _, body = self.openai("Summarise.\n<text>First one. Second.</text>", None)
        self.assertEqual(json.loads(body)["choices"][0]["message"]["content"], "First one.")

    def test_openai_logprobs_yes_no(self):
        _, _, body = self.openai("Is this paragraph fluent? Answer yes or no.", None, logprobs=True)
        choice = json.loads(body)["choices"][0]
        self.assertEqual(choice["message"]["content"], "Yes")
        top = choice["logprobs"]["content"][0]["top_logprobs"]
        self.assertEqual(len(top), 5)
        self.assertEqual(top[0]["token"], "Yes")
        self.assertEqual(top[1]["token"], "No")
        self.assertGreater(top[0]["logprob"], top[1]["logprob"])

    def test_fact_checks_one_entry_per_fact_of_each_list(self):
        entry = lambda keys: {"type": "object", "additionalProperties": False,
                              "required": ["id"] + keys,
                              "properties": dict({"id": {"type": "integer", "minimum": 1}},
                                                 **{k: {"type": "string", "enum": ["yes", "no"]} for k in keys})}
        schema = {"type": "object", "additionalProperties": False,
                  "required": ["response_facts", "source_facts"],
                  "properties": {"response_facts": {"type": "array", "items": entry(["supported", "main_focus"])},
                                 "source_facts": {"type": "array", "items": entry(["covered"])}}}
        user = ("Check the numbered facts below.\n\n<<<SOURCE\nThe article. It says [1] things.\nSOURCE>>>\n\n"
                "<<<RESPONSE_FACTS\n[1] A.\n[2] B.\n[3] C.\nRESPONSE_FACTS>>>\n\n"
                "<<<RESPONSE\nA. B. C.\nRESPONSE>>>\n\n<<<SOURCE_FACTS\n[1] X.\n[2] Y.\nSOURCE_FACTS>>>\n\n"
                "There are 3 numbered response facts.")
        _, _, body = self.openai(user, schema, "fact_checks")
        content = json.loads(json.loads(body)["choices"][0]["message"]["content"])
        self.assertEqual(content["response_facts"],
                         [{"id": i, "supported": "yes", "main_focus": "yes"} for i in (1, 2, 3)])
        self.assertEqual(content["source_facts"], [{"id": i, "covered": "yes"} for i in (1, 2)])
        # Gemini has no schema name: the block labels decide all the same.
        gschema = {"type": "OBJECT", "required": ["source_facts"], "properties": {
            "source_facts": {"type": "ARRAY", "items": {"type": "OBJECT", "required": ["id", "covered"], "properties": {
                "id": {"type": "INTEGER", "minimum": 1}, "covered": {"type": "STRING", "enum": ["yes", "no"]}}}}}}
        _, _, body = self.gemini(user, schema=gschema)
        text = json.loads(body)["candidates"][0]["content"]["parts"][0]["text"]
        self.assertEqual(len(json.loads(text)["source_facts"]), 2)

    def test_response_judgements(self):
        label = {"type": "string", "enum": ["aligned", "partially", "not_aligned"]}
        schema = {"type": "object", "additionalProperties": False,
                  "required": ["intent_alignment", "receptiveness", "fluency"],
                  "properties": {"intent_alignment": label,
                                 "receptiveness": {"type": "string", "enum": ["yes", "no"]},
                                 "fluency": {"type": "integer", "minimum": 1, "maximum": 5}}}
        _, _, body = self.openai("Assess.\n\n<<<RESPONSE\nFine.\nRESPONSE>>>", schema, "response_judgements")
        content = json.loads(json.loads(body)["choices"][0]["message"]["content"])
        self.assertEqual(content, {"intent_alignment": "aligned", "receptiveness": "yes", "fluency": 5})

    def test_two_yes_no_words_with_logprobs_at_each_answer(self):
        user = "Question 1: fluent?\nQuestion 2: coherent?\nReply with exactly two words, each yes or no."
        _, _, body = self.openai(user, None, logprobs=True)
        choice = json.loads(body)["choices"][0]
        self.assertEqual(choice["message"]["content"], "Yes No")
        content = choice["logprobs"]["content"]
        self.assertEqual([c["token"] for c in content], ["Yes", " No"])
        second = content[1]["top_logprobs"]
        self.assertEqual([t["token"] for t in second[:2]], [" No", " Yes"])
        self.assertAlmostEqual(math.exp(second[0]["logprob"]), 0.9)
        _, _, body = self.gemini(user, logprobs=True)
        cand = json.loads(body)["candidates"][0]
        self.assertEqual(cand["content"]["parts"][0]["text"], "Yes No")
        top = cand["logprobsResult"]["topCandidates"]
        self.assertEqual([a["token"] for a in top[1]["candidates"][:2]], [" No", " Yes"])
        # Without logprobs the words alone.
        _, _, body = self.anthropic(user, None)
        self.assertEqual(json.loads(body)["content"][0]["text"], "Yes No")

    def test_anthropic_tool_use(self):
        status, _, body = self.anthropic()
        self.assertEqual(status, 200)
        reply = json.loads(body)
        self.assertEqual(reply["type"], "message")
        self.assertEqual(reply["stop_reason"], "tool_use")
        block = reply["content"][0]
        self.assertEqual(block["type"], "tool_use")
        self.assertEqual(block["name"], "atomic_facts")
        self.assertEqual(block["input"]["facts"][0], "The sky is blue.")
        self.assertGreater(reply["usage"]["input_tokens"], 0)

    def test_anthropic_text(self):
        _, _, body = self.anthropic("Is it coherent? Answer yes or no.", None)
        reply = json.loads(body)
        self.assertEqual(reply["content"], [{"type": "text", "text": "Yes"}])
        self.assertEqual(reply["stop_reason"], "end_turn")

    def test_gemini_schema_and_logprobs(self):
        status, _, body = self.gemini(schema=GEMINI_FACTS)
        self.assertEqual(status, 200)
        reply = json.loads(body)
        cand = reply["candidates"][0]
        self.assertEqual(cand["finishReason"], "STOP")
        self.assertEqual(json.loads(cand["content"]["parts"][0]["text"])["facts"][1], "Water is wet!")
        self.assertEqual(reply["modelVersion"], "gemini-mock")
        _, _, body = self.gemini("Fluent? Answer yes or no.", logprobs=True)
        cand = json.loads(body)["candidates"][0]
        alts = cand["logprobsResult"]["topCandidates"][0]["candidates"]
        self.assertEqual([a["token"] for a in alts[:2]], ["Yes", "No"])

    def test_same_request_same_reply(self):
        a = json.loads(self.openai()[2])
        b = json.loads(self.openai()[2])
        a.pop("id"), b.pop("id")
        self.assertEqual(a, b)
        stats = self.get_json("/__stats")
        self.assertEqual(stats["ok"], 2)
        self.assertEqual(stats["repeated_successes"], 1)
        self.assertEqual(stats["distinct_successes"], 1)

    def test_canned_replies(self):
        self.post("/__replies", [{"match": "atomic_facts", "json": {"facts": ["canned"]}},
                                 {"match": "Say hi", "text": "hi there"}])
        _, _, body = self.openai()
        self.assertEqual(json.loads(json.loads(body)["choices"][0]["message"]["content"]),
                         {"facts": ["canned"]})
        _, _, body = self.anthropic("Say hi", None)
        self.assertEqual(json.loads(body)["content"][0]["text"], "hi there")

    def test_cors_preflight(self):
        status, headers, _ = self.request("OPTIONS", "/v1/messages", headers={
            "Origin": "http://localhost:8080", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, anthropic-version, content-type"})
        self.assertEqual(status, 204)
        self.assertEqual(headers["access-control-allow-origin"], "*")
        self.assertIn("POST", headers["access-control-allow-methods"])
        allowed = [h.strip() for h in headers["access-control-allow-headers"].split(",")]
        for h in ["authorization", "content-type", "x-api-key", "anthropic-version",
                  "anthropic-dangerous-direct-browser-access", "x-goog-api-key"]:
            self.assertIn(h, allowed)

    def test_stats_and_reset(self):
        self.openai()
        self.anthropic()
        self.gemini()
        stats = self.get_json("/__stats")
        self.assertEqual(stats["total"], 3)
        self.assertEqual(stats["by_format"], {"openai": 1, "anthropic": 1, "gemini": 1})
        self.assertEqual(stats["by_path"]["/v1/messages"], 1)
        self.assertEqual(stats["by_path"]["/v1beta/models/gemini-mock:generateContent"], 1)
        recent = self.get_json("/__requests")
        self.assertEqual(len(recent), 3)
        self.assertEqual(recent[0]["headers"]["authorization"], "[redacted]")
        self.assertEqual(recent[1]["headers"]["x-api-key"], "[redacted]")
        self.post("/__reset", {})
        self.assertEqual(self.get_json("/__stats")["total"], 0)


class RequestChecks(MockCase):
    def test_anthropic_needs_version_header(self):
        status, _, body = self.anthropic(headers={"anthropic-version": ""})
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body)["error"]["type"], "invalid_request_error")

    def test_anthropic_rejects_temperature_with_top_p(self):
        status, _, body = self.anthropic(top_p=0.9)
        self.assertEqual(status, 400)
        self.assertIn("top_p", json.loads(body)["error"]["message"])

    def test_openai_strict_schema_rules(self):
        loose = {"type": "object", "properties": {"a": {"type": "string"}}}
        status, _, body = self.openai(schema=loose)
        self.assertEqual(status, 400)
        self.assertIn("additionalProperties", json.loads(body)["error"]["message"])

    def test_gemini_rejects_json_schema_keywords(self):
        status, _, body = self.gemini(schema=FACTS_SCHEMA)
        self.assertEqual(status, 400)
        err = json.loads(body)["error"]
        self.assertEqual(err["status"], "INVALID_ARGUMENT")
        self.assertIn("additionalProperties", err["message"])

    def test_unknown_path_and_bad_json(self):
        self.assertEqual(self.post("/v2/nothing", {})[0], 404)
        status, _, _ = self.post("/v1/chat/completions", b"{not json")
        self.assertEqual(status, 400)
        self.assertEqual(self.get_json("/__stats")["rejected"], 1)

    def test_unknown_fault_kind_is_refused(self):
        status, _, _ = self.post("/__faults", {"sequence": ["explode"]})
        self.assertEqual(status, 400)


class Faults(MockCase):
    def plan(self, plan):
        status, _, _ = self.post("/__faults", plan)
        self.assertEqual(status, 200)

    def each_format(self):
        return [("openai", self.openai), ("anthropic", self.anthropic),
                ("gemini", lambda: self.gemini(schema=GEMINI_FACTS))]

    def test_429_retry_after_seconds_and_date(self):
        self.plan({"sequence": ["429", "429_date"], "retry_after": 7})
        status, headers, body = self.openai()
        self.assertEqual(status, 429)
        self.assertEqual(headers["retry-after"], "7")
        self.assertEqual(json.loads(body)["error"]["type"], "rate_limit_exceeded")
        status, headers, _ = self.openai()
        self.assertEqual(status, 429)
        delay = (parsedate_to_datetime(headers["retry-after"]) - parsedate_to_datetime(headers["date"])).total_seconds()
        self.assertTrue(6 <= delay <= 8, delay)
        self.assertEqual(self.openai()[0], 200)
        stats = self.get_json("/__stats")
        self.assertEqual(stats["faulted"], {"429": 1, "429_date": 1})
        self.assertEqual(stats["ok"], 1)

    def test_huge_reply_and_retry_after_as_given(self):
        self.plan({"sequence": ["huge", "429"], "huge_mb": 0.5, "retry_after": "1" + "0" * 300})
        status, headers, body = self.openai()
        self.assertEqual(status, 200)
        self.assertEqual(headers["x-mock-fault"], "huge")
        self.assertGreater(len(body), 512 * 1024)
        text = json.loads(body)["choices"][0]["message"]["content"]
        self.assertTrue(text.startswith("HUGEx"))
        status, headers, _ = self.openai()
        self.assertEqual((status, headers["retry-after"]), (429, "1" + "0" * 300))

    def test_server_and_auth_errors_in_each_shape(self):
        for kind in ["500", "503", "529", "401", "400"]:
            for fmt, send in self.each_format():
                self.post("/__reset", {})
                self.plan({"sequence": [kind]})
                status, headers, body = send()
                self.assertEqual(status, int(kind), (kind, fmt))
                self.assertEqual(headers["x-mock-fault"], kind)
                err = json.loads(body)
                if fmt == "anthropic":
                    self.assertEqual(err["type"], "error")
                self.assertIn("message", err["error"])

    def test_timeout(self):
        self.plan({"sequence": ["timeout"], "timeout_s": 1.5})
        start = time.monotonic()
        with self.assertRaises((socket.timeout, TimeoutError, urllib.error.URLError)):
            self.post("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "x"}]},
                      timeout=0.3)
        self.assertLess(time.monotonic() - start, 1.4)
        time.sleep(1.4)
        self.assertEqual(self.get_json("/__stats")["faulted"], {"timeout": 1})

    def test_disconnect(self):
        self.plan({"sequence": ["disconnect"]})
        with self.assertRaises((urllib.error.URLError, ConnectionError, OSError)):
            self.openai()

    def test_malformed_and_envelope(self):
        for fmt, send in self.each_format():
            self.post("/__reset", {})
            self.plan({"sequence": ["malformed", "envelope"]})
            status, _, body = send()
            self.assertEqual(status, 200)
            with self.assertRaises(ValueError):
                json.loads(body)
            status, _, body = send()
            self.assertEqual(json.loads(body)["status"], "ok", fmt)

    def test_truncated(self):
        self.plan({"sequence": ["truncated"] * 3})
        _, _, body = self.openai()
        self.assertEqual(json.loads(body)["choices"][0]["finish_reason"], "length")
        _, _, body = self.anthropic()
        self.assertEqual(json.loads(body)["stop_reason"], "max_tokens")
        _, _, body = self.gemini(schema=GEMINI_FACTS)
        self.assertEqual(json.loads(body)["candidates"][0]["finishReason"], "MAX_TOKENS")

    def test_wrong_shape_bad_json_and_prose(self):
        self.plan({"sequence": ["wrong_shape", "bad_json", "prose_fences"] * 3})
        for fmt, send in self.each_format():
            texts = []
            for _ in range(3):
                reply = json.loads(send()[2])
                if fmt == "openai":
                    texts.append(reply["choices"][0]["message"]["content"])
                elif fmt == "anthropic":
                    block = reply["content"][0]
                    texts.append(json.dumps(block["input"]) if block["type"] == "tool_use" else block["text"])
                else:
                    texts.append(reply["candidates"][0]["content"]["parts"][0]["text"])
            wrong, bad, prose = texts
            self.assertEqual(json.loads(wrong)["unexpected"], "shape", fmt)
            with self.assertRaises(ValueError):
                json.loads(bad)
            self.assertTrue(prose.startswith("Sure!"), fmt)
            self.assertIn("```json\n{", prose)
            inner = prose.split("```json\n", 1)[1].split("\n```", 1)[0]
            self.assertEqual(json.loads(inner)["facts"][0], "The sky is blue.")

    def test_refusal(self):
        self.plan({"sequence": ["refusal"] * 3})
        msg = json.loads(self.openai()[2])["choices"][0]["message"]
        self.assertIsNone(msg["content"])
        self.assertTrue(msg["refusal"])
        self.assertEqual(json.loads(self.anthropic()[2])["stop_reason"], "refusal")
        cand = json.loads(self.gemini(schema=GEMINI_FACTS)[2])["candidates"][0]
        self.assertEqual(cand["finishReason"], "SAFETY")
        self.assertNotIn("content", cand)

    def test_rate_plan_is_deterministic(self):
        plan = {"rate": 0.5, "seed": 3, "kinds": ["500", "503"]}

        def run():
            self.post("/__reset", {})
            self.plan(plan)
            return [self.openai()[0] for _ in range(20)]

        first = run()
        self.assertEqual(first, run())
        self.assertTrue(any(s == 200 for s in first))
        self.assertTrue(any(s in (500, 503) for s in first))
        stats = self.get_json("/__stats")
        self.assertEqual(stats["faulted_total"] + stats["ok"], 20)


class RequireKey(MockCase):
    args = ("--require-key", "sk-right")

    def test_wrong_key(self):
        self.assertEqual(self.openai()[0], 401)
        status, _, body = self.gemini()
        self.assertEqual(status, 400)
        self.assertIn("API_KEY_INVALID", body.decode())
        status, _, _ = self.post("/v1/chat/completions",
                                 {"model": "m", "messages": [{"role": "user", "content": "x"}]},
                                 {"Authorization": "Bearer sk-right"})
        self.assertEqual(status, 200)


class FaultsFile(MockCase):
    path = os.path.join(HERE, ".test_plan.json")
    args = ("--faults", path)

    @classmethod
    def setUpClass(cls):
        with open(cls.path, "w", encoding="utf-8") as f:
            json.dump({"sequence": ["503"]}, f)
        super().setUpClass()
        os.remove(cls.path)

    def setUp(self):
        pass  # keep the plan loaded from the file

    def test_plan_from_file(self):
        self.assertEqual(self.openai()[0], 503)
        self.assertEqual(self.openai()[0], 200)


if __name__ == "__main__":
    unittest.main(verbosity=1)
