"""The openai provider against a local OpenAI-compatible HTTP server (real sockets,
the real client): success, 429 then success, a timeout, malformed JSON then success,
and a second run that makes no request at all. The key never leaves the environment."""
import json
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.describe.gsp import describe_all
from pipeline.describe.index import Retriever, build_index
from pipeline.describe.knowledge import KnowledgeBase, load_entries
from pipeline.describe.openai_provider import OpenAIProvider

SECRET = "sk-test-5ecret-do-not-leak"
STEPS_PER_CLASS = 4          # primary, refine, synonyms, decompose


class FakeOpenAI(ThreadingHTTPServer):
    """Scripted chat-completions endpoint: each request pops the next behaviour
    ('ok', '429', '500', 'slow', 'garbage'); an empty script answers 'ok'."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[str] = []
        self.requests: list[dict] = []
        self.auth: set[str] = set()
        self.lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


def _answer(body: dict) -> dict:
    step = body["response_format"]["json_schema"]["name"]
    text = body["messages"][-1]["content"]
    gloss = re.search(r'sign "([^"]+)"', text).group(1)
    if step == "primary":      # a grounded model leans on the first retrieved entry
        entry = re.search(r"^- [^\n]*? — (.*)$", text, re.M)
        return {"description": entry.group(1) if entry else f"For {gloss} the hand taps the chin."}
    if step == "refine":
        return {"refined": f"For {gloss} the flat dominant hand taps the chin twice."}
    if step == "synonyms":
        n = int(re.search(r"Write (\d+) alternative", text).group(1))
        return {"synonyms": [f"{gloss} variant {k}: the flat strong hand touches the chin." for k in range(n)]}
    return {"segments": [{"text": "The flat dominant hand", "parts": ["right_hand"]},
                         {"text": "taps the chin", "parts": ["right_hand", "face", "body"]}]}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):        # keep pytest output clean
        pass

    def do_POST(self):
        server: FakeOpenAI = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with server.lock:
            server.requests.append(body)
            server.auth.add(self.headers.get("Authorization", ""))
            behaviour = server.script.pop(0) if server.script else "ok"
        if behaviour in ("429", "500"):
            self._send(int(behaviour), {"error": {"message": "try later", "type": "rate_limit"}})
            return
        if behaviour == "slow":
            time.sleep(1.5)
        content = "{not json" if behaviour == "garbage" else json.dumps(_answer(body))
        self._send(200, {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": content}}],
                         "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})

    def _send(self, status: int, payload: dict):
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):   # the client timed out first
            pass


@pytest.fixture()
def server():
    srv = FakeOpenAI()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    d = tmp_path_factory.mktemp("kb")
    (d / "dictionary.md").write_text(
        "HOUSE — Both hands in the B handshape meet at the fingertips. Origin: old.\n\n"
        "SHELTER — As in the sign HOUSE, but the mouth is rounded.\n\n"
        "B handshape — Fingers extended and held together, thumb folded across the palm.\n")
    index = tmp_path_factory.mktemp("index")
    build_index(load_entries(d), "minilm", index)
    base = KnowledgeBase(load_entries(d))
    return base, Retriever(index, base), d


def _cfg(server, **kw):
    cfg = {"base_url": server.base_url, "model": "fake-model", "api_key_env": "GSPMC_TEST_KEY",
           "response_format": "json_schema", "temperature": 0.0, "seed": 0, "timeout_s": 0.5,
           "max_retries": 3, "backoff_s": 0.01, "backoff_max_s": 0.05, "concurrency": 2}
    cfg.update(kw)
    return cfg


def _run(server, kb, cache_dir):
    base, retriever, d = kb
    provider = OpenAIProvider(_cfg(server), base, str(cache_dir))
    records = describe_all([(0, "HOUSE"), (1, "SHELTER")], "gsp", base, retriever, provider,
                           {"synonyms": 2, "top_k": 2, "allow_missing": False}, str(d), 2)
    return provider, records


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("GSPMC_TEST_KEY", SECRET)


@pytest.mark.parametrize("script,extra", [([], 0), (["429"], 1), (["500", "429"], 2), (["slow"], 1),
                                          (["garbage"], 1)])
def test_answers_retries_and_cache(server, kb, tmp_path, script, extra, caplog):
    server.script = list(script)
    with caplog.at_level(logging.DEBUG):
        provider, records = _run(server, kb, tmp_path / "cache")
    assert provider.requests == 2 * STEPS_PER_CLASS + extra
    assert len(server.requests) == provider.requests
    for r in records:
        assert r["global"].startswith(f"For {r['gloss']} the flat") and len(r["synonyms"]) == 2
        assert {"right_hand", "face"} <= {p for s in r["parts"] for p in s["parts"]}
        assert r["provenance"]["provider"] == "openai" and r["provenance"]["model"] == "fake-model"
    shelter = records[1]["provenance"]
    assert "house" in shelter["followed"] and "b-handshape" in shelter["followed"]
    # the refine prompt carried the entries it refers to
    refine_prompts = [b["messages"][-1]["content"] for b in server.requests
                      if b["response_format"]["json_schema"]["name"] == "refine"]
    assert any("B handshape — Fingers extended" in p for p in refine_prompts)

    # a second run makes zero requests: every answer comes from the cache
    before = len(server.requests)
    again, records2 = _run(server, kb, tmp_path / "cache")
    assert again.requests == 0 and len(server.requests) == before
    assert again.cache_hits == 2 * STEPS_PER_CLASS
    assert records2 == records

    # the key reached the server and nothing else
    assert server.auth == {f"Bearer {SECRET}"}
    cached = "".join(p.read_text() for p in (tmp_path / "cache").rglob("*.json"))
    assert SECRET not in cached and SECRET not in json.dumps(records) and SECRET not in caplog.text


def test_gives_up_with_a_clear_error(server, kb, tmp_path):
    server.script = ["500"] * 20
    with pytest.raises(RuntimeError, match="gave up after 4 attempts"):
        _run(server, kb, tmp_path / "cache")


def test_missing_key_names_the_variable(server, kb, tmp_path, monkeypatch):
    monkeypatch.delenv("GSPMC_TEST_KEY")
    with pytest.raises(RuntimeError, match="GSPMC_TEST_KEY"):
        OpenAIProvider(_cfg(server), kb[0], str(tmp_path))
