"""Content-addressed cache of LLM answers: the key is a hash of everything that
decides the answer (endpoint, model, messages, schema, sampling), never the API key,
so a rerun with unchanged prompts makes zero calls."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..io import write_json


def request_key(request: dict) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class ResponseCache:
    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, request: dict):
        path = self._path(request_key(request))
        if not path.exists():
            return None
        try:
            return json.loads(path.read_text())["response"]
        except (ValueError, KeyError):
            return None            # a damaged entry is a miss, rewritten on success

    def put(self, request: dict, response) -> None:
        write_json(self._path(request_key(request)), {"request": request, "response": response})
