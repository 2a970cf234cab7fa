"""A loopback OpenAI-compatible chat-completions endpoint with canned answers shaped
like the GSP steps' schemas. For tests (scripted failures: 429, 500, slow, garbage)
and for benchmarking the client, retry and cache path without a real model. It binds
127.0.0.1 only and answers nothing about signs it was not told."""
from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def canned_answer(body: dict) -> dict:
    step = body["response_format"]["json_schema"]["name"]
    text = body["messages"][-1]["content"]
    m = re.search(r'sign "([^"]+)"', text)
    gloss = m.group(1) if m else "?"
    if step == "primary":      # a grounded model leans on the first retrieved entry
        entry = re.search(r"^- [^\n]*? — (.*)$", text, re.M)
        return {"description": entry.group(1) if entry else f"For {gloss} the hand taps the chin."}
    if step == "refine":
        return {"refined": f"For {gloss} the flat dominant hand taps the chin twice."}
    if step == "synonyms":
        n = int(re.search(r"\b[Ww]rite (\d+) (?:alternative|different)", text).group(1))
        return {"synonyms": [f"{gloss} variant {k}: the flat strong hand touches the chin." for k in range(n)]}
    return {"segments": [{"text": "The flat dominant hand", "parts": ["right_hand"]},
                         {"text": "taps the chin", "parts": ["right_hand", "face", "body"]}]}


class EchoServer(ThreadingHTTPServer):
    """Each request pops the next scripted behaviour ('ok', '429', '500', 'slow',
    'garbage'); an empty script answers 'ok'. Records bodies and auth headers."""

    daemon_threads = True

    def __init__(self, slow_s: float = 1.5):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[str] = []
        self.requests: list[dict] = []
        self.auth: set[str] = set()
        self.slow_s = slow_s
        self.lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def __enter__(self) -> "EchoServer":
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        server: EchoServer = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with server.lock:
            server.requests.append(body)
            server.auth.add(self.headers.get("Authorization", ""))
            behaviour = server.script.pop(0) if server.script else "ok"
        if behaviour in ("429", "500"):
            self._send(int(behaviour), {"error": {"message": "try later", "type": "server_error"}})
            return
        if behaviour == "slow":
            time.sleep(server.slow_s)
        content = "{not json" if behaviour == "garbage" else json.dumps(canned_answer(body))
        self._send(200, {"id": "echo", "object": "chat.completion", "created": 0, "model": body["model"],
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": content}}],
                         "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}})

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
