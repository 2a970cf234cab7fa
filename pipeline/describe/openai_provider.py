"""The ``openai`` provider: any OpenAI-compatible chat endpoint (Moonshot as in the
paper, OpenAI, vLLM, Ollama, a llama.cpp server) given ``base_url``, ``model`` and the
*name* of the environment variable holding the key.

Answers are JSON validated against a schema per step; 429, 5xx, timeouts, connection
errors and invalid JSON are retried with exponential backoff; answers are cached by
content so a rerun makes no requests. The key is read from the environment at call
time and is never part of a cache key, a log line or an output.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from importlib import resources

import jsonschema

from .cache import ResponseCache
from .knowledge import Entry, KnowledgeBase
from .lexicon import PARTS
from .references import find_references

log = logging.getLogger(__name__)

SCHEMAS = {
    "primary": {"type": "object", "required": ["description"], "additionalProperties": False,
                "properties": {"description": {"type": "string", "minLength": 1}}},
    "synonyms": {"type": "object", "required": ["synonyms"], "additionalProperties": False,
                 "properties": {"synonyms": {"type": "array", "items": {"type": "string", "minLength": 1}}}},
    "refine": {"type": "object", "required": ["refined"], "additionalProperties": False,
               "properties": {"refined": {"type": "string", "minLength": 1}}},
    "decompose": {"type": "object", "required": ["segments"], "additionalProperties": False,
                  "properties": {"segments": {"type": "array", "minItems": 1, "items": {
                      "type": "object", "required": ["text", "parts"], "additionalProperties": False,
                      "properties": {"text": {"type": "string", "minLength": 1},
                                     "parts": {"type": "array", "minItems": 1,
                                               "items": {"enum": list(PARTS)}}}}}}},
}
PROMPT_FILES = ("primary.txt", "primary_nokb.txt", "synonyms.txt", "synonyms_label.txt", "refine.txt", "decompose.txt")


def prompt(name: str) -> str:
    return resources.files("pipeline.describe").joinpath("prompts", name).read_text()


def prompts_version() -> str:
    """Hash of every prompt template: part of provenance and of every cache key."""
    h = hashlib.sha256()
    for name in PROMPT_FILES:
        h.update(name.encode() + b"\0" + prompt(name).encode())
    return h.hexdigest()[:16]


def _entry_lines(entries: list[Entry]) -> str:
    return "\n".join(f"- {e.headword + ' — ' if e.headword else ''}{e.text}" for e in entries)


class LLMError(RuntimeError):
    pass


class _InvalidAnswer(ValueError):
    pass


class OpenAIProvider:
    name = "openai"

    def __init__(self, cfg: dict, kb: KnowledgeBase, cache_dir: str):
        from openai import OpenAI

        self.cfg, self.kb = cfg, kb
        self.model = cfg["model"]
        self.version = prompts_version()
        env = cfg.get("api_key_env")
        key = os.environ.get(env) if env else "not-needed"
        if not key:
            raise LLMError(f"describe.openai.api_key_env names {env}, which is not set in the environment")
        # our own retry loop decides and counts; the client's is off
        self.client = OpenAI(base_url=cfg["base_url"], api_key=key, timeout=cfg["timeout_s"], max_retries=0)
        self.cache = ResponseCache(cache_dir)
        self.requests = 0
        self.cache_hits = 0
        self._lock = threading.Lock()

    def _ask(self, step: str, text: str):
        schema = SCHEMAS[step]
        messages = [{"role": "system", "content": "You answer with a single JSON object and nothing else."},
                    {"role": "user", "content": text}]
        if self.cfg["response_format"] == "json_schema":
            fmt = {"type": "json_schema", "json_schema": {"name": step, "schema": schema, "strict": True}}
        else:
            fmt = {"type": "json_object"}
        request = {"base_url": self.cfg["base_url"], "model": self.model, "messages": messages,
                   "response_format": fmt, "temperature": self.cfg["temperature"], "seed": self.cfg["seed"],
                   "prompts": self.version}
        cached = self.cache.get(request)
        if cached is not None:
            with self._lock:
                self.cache_hits += 1
            return cached
        answer = self._call_with_retries(step, messages, fmt, schema)
        self.cache.put(request, answer)
        return answer

    def _call_with_retries(self, step, messages, fmt, schema):
        import openai

        attempts = self.cfg["max_retries"] + 1
        for attempt in range(attempts):
            with self._lock:
                self.requests += 1
            try:
                resp = self.client.chat.completions.create(
                    model=self.model, messages=messages, response_format=fmt,
                    temperature=self.cfg["temperature"], seed=self.cfg["seed"])
                content = resp.choices[0].message.content or ""
                try:
                    answer = json.loads(content)
                    jsonschema.validate(answer, schema)
                except (ValueError, jsonschema.ValidationError) as exc:
                    raise _InvalidAnswer(f"{step}: answer is not valid JSON for the schema: {exc}") from exc
                return answer
            except (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError,
                    openai.APIConnectionError, _InvalidAnswer) as exc:
                if attempt + 1 == attempts:
                    raise LLMError(f"{step}: gave up after {attempts} attempts: {type(exc).__name__}") from exc
                delay = min(self.cfg["backoff_max_s"], self.cfg["backoff_s"] * 2 ** attempt)
                log.warning("%s: %s, retrying in %.2fs (%d/%d)", step, type(exc).__name__, delay, attempt + 1,
                            attempts - 1)
                time.sleep(delay)
            except openai.APIStatusError as exc:       # 4xx other than 429: our request is wrong
                raise LLMError(f"{step}: the endpoint refused the request with HTTP {exc.status_code}") from exc
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ the GSP steps
    def grounding(self, own: Entry | None, retrieved: list[Entry]) -> list[Entry]:
        """The entries the primary prompt carries: the own entry, then every retrieved one."""
        return ([own] if own else []) + [e for e in retrieved if e is not own]

    def primary(self, gloss: str, own: Entry | None, retrieved: list[Entry]) -> str:
        entries = self.grounding(own, retrieved)
        if not entries:
            return self._ask("primary", prompt("primary_nokb.txt").format(gloss=gloss))["description"]
        knowledge = "Dictionary entries retrieved for it:\n" + _entry_lines(entries)
        return self._ask("primary", prompt("primary.txt").format(gloss=gloss, knowledge=knowledge))["description"]

    def refine(self, gloss: str, text: str) -> tuple[str, list[str], list[str]]:
        used, unresolved, lines = [], [], []
        pending, seen = [text], set()
        while pending:                 # follow references transitively (X's entry may name a handshape)
            signs, shapes = find_references(pending.pop())
            for name in signs + [f"{h} handshape" for h in shapes]:
                if name.lower() in seen:
                    continue
                seen.add(name.lower())
                entry = self.kb.lookup(name)
                if entry is None:
                    unresolved.append(name)
                    continue
                used.append(entry.id)
                lines.append(f"- {entry.headword} — {entry.text}")
                pending.append(entry.text)
        refs = "\n".join(lines) or "(none)"
        answer = self._ask("refine", prompt("refine.txt").format(gloss=gloss, text=text, references=refs))
        return answer["refined"], used, unresolved

    def synonyms(self, gloss: str, text: str, n: int) -> list[str]:
        """``synonym_source: description``: rewordings of the refined description."""
        answer = self._ask("synonyms", prompt("synonyms.txt").format(gloss=gloss, text=text, n=n))
        return [s for s in answer["synonyms"] if s.strip()][:n]

    def label_synonyms(self, gloss: str, n: int, description: str, knowledge: list[Entry]) -> list[str]:
        """``synonym_source: label`` (Eq. 4, P2 "The sign <>'s synonym"): from the label and the
        dictionary entries the description was grounded in, never from the description itself."""
        grounding = ("Dictionary entries for it and the entries they refer to:\n" + _entry_lines(knowledge)
                     if knowledge else "")
        answer = self._ask("synonyms", prompt("synonyms_label.txt").format(gloss=gloss, knowledge=grounding, n=n))
        return [s for s in answer["synonyms"] if s.strip()][:n]

    def decompose(self, gloss: str, text: str) -> list[dict]:
        answer = self._ask("decompose", prompt("decompose.txt").format(gloss=gloss, text=text))
        return [{"text": s["text"], "parts": [p for p in PARTS if p in s["parts"]]} for s in answer["segments"]]
