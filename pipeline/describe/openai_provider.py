"""The ``openai`` provider: any OpenAI-compatible chat endpoint (Moonshot as in the
paper, OpenAI, vLLM, Ollama, a llama.cpp server) given ``base_url``, ``model`` and the
*name* of the environment variable holding the key (``query_env``: the names of those holding
secret query parameters, such as Azure's ``api-key``; params refuse a base_url that carries a
credential itself, credentials.py).

Answers are JSON validated against a schema per step. Transient faults are retried
with exponential backoff (``max_retries``, ``backoff_s``, ``backoff_max_s``): 429, 5xx,
timeouts, connection errors, a 200 whose body is cut off, is not JSON or is not a chat
completion, and an answer that is not valid JSON for the step's schema. A 429/503 that
says ``Retry-After`` is waited out as asked, up to ``backoff_max_s``. When the budget is
spent, ``LLMError`` names the step, the endpoint and the last reason (``describe_class``
adds the class). Answers are cached by content so a rerun makes no requests. The secrets are
read from the environment when the provider is made and are never part of a cache key, a log
line (any logger's: credentials.keep_out_of_logs), an error or an output.

Knowledge-base text is untrusted data: entries travel as ``<entry>`` blocks and the
description being reworked as a ``<description>`` block, escaped so that no text can
close its block, and the system prompt says that quoted text is data, not instructions.
"""
from __future__ import annotations

import email.utils
import hashlib
import html
import json
import logging
import math
import os
import threading
import time
from datetime import datetime, timezone
from importlib import resources

import jsonschema

from ..credentials import keep_out_of_logs, public_url, redact
from ..data.wholebody import PART_NAMES
from .cache import ResponseCache
from .gsp import ProviderError
from .knowledge import Entry, KnowledgeBase
from .language import name as language_name
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
                                               "items": {"enum": list(PART_NAMES)}}}}}}},
}
_PROMPTS = resources.files("pipeline.describe").joinpath("prompts")


def prompt(name: str) -> str:
    return _PROMPTS.joinpath(name).read_text()


def prompt_files() -> list[str]:
    """Every template in prompts/: listed from the folder, so a new one cannot miss the version."""
    return sorted(p.name for p in _PROMPTS.iterdir() if p.name.endswith(".txt"))


def prompts_version() -> str:
    """Hash of every prompt template: part of provenance and of every cache key."""
    h = hashlib.sha256()
    for name in prompt_files():
        h.update(name.encode() + b"\0" + prompt(name).encode())
    return h.hexdigest()[:16]


def quoted(text: str) -> str:
    """Text for inside a data block: escaped, so it cannot close the block or open another."""
    return html.escape(text, quote=False)


def entry_blocks(entries: list[Entry]) -> str:
    template = prompt("entry.txt").rstrip("\n")
    return "\n".join(template.format(id=html.escape(e.id), headword=html.escape(e.headword or ""),
                                     text=quoted(e.text)) for e in entries)


def retry_after_s(headers) -> float | None:
    """Seconds the server asked us to wait: ``Retry-After`` as seconds or as an HTTP date
    (RFC 9110), or the ``retry-after-ms`` some APIs send; None when absent or unreadable."""
    ms = headers.get("retry-after-ms")
    value = headers.get("retry-after")
    for raw, scale in ((ms, 1e-3), (value, 1.0)):
        try:
            seconds = float(raw) * scale
        except (TypeError, ValueError):
            continue
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:            # an HTTP date is GMT even when it does not say so
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class LLMError(ProviderError):
    """No usable answer from the endpoint: the message names the step, the endpoint and the
    last reason, never the key."""


def _from_env(variable: str, key: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise LLMError(f"{key} names {variable}, which is not set in the environment")
    return value


class _InvalidAnswer(ValueError):
    """A 200 that is not a usable answer (cut off, not JSON, not a completion, off-schema)."""


def completion_content(body: str) -> tuple[str, str | None]:
    """The answer text and finish_reason of a chat-completion response body."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        # a string left open, or an error at the very end: the body stopped mid-JSON
        cut = isinstance(exc, json.JSONDecodeError) and (exc.msg.startswith("Unterminated")
                                                         or exc.pos >= len(body.rstrip()))
        raise _InvalidAnswer(f"the HTTP 200 body {'ends mid-JSON (cut off)' if cut else 'is not JSON'}: "
                             f"{exc} ({len(body)} chars)") from exc
    try:
        choice = data["choices"][0]
        content = choice["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise _InvalidAnswer(f"the HTTP 200 body is not a chat completion (no choices[0].message.content): "
                             f"{body[:160]!r}") from exc
    if content is not None and not isinstance(content, str):
        raise _InvalidAnswer(f"the answer content is a {type(content).__name__}, not text")
    return content or "", choice.get("finish_reason")


def _fits(answer, schema: dict) -> bool:
    return jsonschema.validators.validator_for(schema)(schema).is_valid(answer)


def bounds_problem(answer: dict, max_chars: int, max_segments: int) -> str | None:
    """What makes a schema-valid answer unusable: a text over ``max_chars`` characters (a
    description is a few sentences; a megabyte is a runaway generation) or more than
    ``max_segments`` part segments; None when it is within both bounds."""
    segments = answer.get("segments", [])
    texts = [answer.get("description"), answer.get("refined"), *answer.get("synonyms", []),
             *(s["text"] for s in segments)]
    longest = max((len(t) for t in texts if t is not None), default=0)
    if longest > max_chars:
        return f"a text of {longest} characters, over describe.openai.max_chars {max_chars}"
    if len(segments) > max_segments:
        return f"{len(segments)} part segments, over describe.openai.max_segments {max_segments}"
    return None


def parse_answer(content: str, finish_reason: str | None, schema: dict):
    try:
        answer = json.loads(content)
        jsonschema.validate(answer, schema)
    except (ValueError, jsonschema.ValidationError) as exc:
        cut = " (finish_reason length: cut at the token limit)" if finish_reason == "length" else ""
        raise _InvalidAnswer(f"the answer is not valid JSON for the schema{cut}: "
                             f"{getattr(exc, 'message', exc)}") from exc
    return answer


class OpenAIProvider:
    name = "openai"

    LANGUAGES = None         # any: the prompts say which languages the texts are in and which to write

    @classmethod
    def from_params(cls, describe: dict, kb: KnowledgeBase, languages: dict | None = None) -> "OpenAIProvider":
        return cls(describe["openai"], kb, describe["cache_dir"], languages)

    def __init__(self, cfg: dict, kb: KnowledgeBase, cache_dir: str, languages: dict | None = None):
        from openai import OpenAI

        self.cfg, self.kb = cfg, kb
        self.languages = languages or {"glosses": "en", "knowledge": "en", "descriptions": "en"}
        self.model = cfg["model"]
        self.version = prompts_version()
        self.endpoint = public_url(cfg["base_url"])
        env = cfg.get("api_key_env")
        key = _from_env(env, "describe.openai.api_key_env") if env else "not-needed"
        query = {name: _from_env(var, f"describe.openai.query_env.{name}") for name, var in cfg["query_env"].items()}
        self._secrets = ([key] if env else []) + list(query.values())
        keep_out_of_logs(*self._secrets)      # the client logs each request's URL, query included
        # our own retry loop decides and counts; the client's is off
        self.client = OpenAI(base_url=cfg["base_url"], api_key=key, default_query=query or None,
                             timeout=cfg["timeout_s"], max_retries=0)
        self.cache = ResponseCache(cache_dir)
        self.requests = 0
        self.cache_hits = 0
        self._lock = threading.Lock()

    def _ask(self, step: str, text: str):
        schema = SCHEMAS[step]
        messages = [{"role": "system", "content": prompt("system.txt").strip()},
                    {"role": "user", "content": text}]
        if self.cfg["response_format"] == "json_schema":
            fmt = {"type": "json_schema", "json_schema": {"name": step, "schema": schema, "strict": True}}
        else:
            fmt = {"type": "json_object"}
        request = {"base_url": self.cfg["base_url"], "model": self.model, "messages": messages,
                   "response_format": fmt, "temperature": self.cfg["temperature"], "seed": self.cfg["seed"],
                   "prompts": self.version}
        cached = self.cache.get(request)
        if cached is not None and _fits(cached, schema) and self._bounds_problem(cached) is None:
            with self._lock:
                self.cache_hits += 1
            return cached
        if cached is not None:
            log.warning("%s: a cached answer does not fit the schema; asking again", step)
        answer = self._call_with_retries(step, messages, fmt, schema)
        self.cache.put(request, answer)
        return answer

    def _request_once(self, messages, fmt, schema):
        with self._lock:
            self.requests += 1
        # the raw body, parsed here: the client's own parsing lets a cut-off or non-completion
        # 200 escape as a bare ValueError/AttributeError instead of a retryable fault
        raw = self.client.chat.completions.with_raw_response.create(
            model=self.model, messages=messages, response_format=fmt,
            temperature=self.cfg["temperature"], seed=self.cfg["seed"])
        answer = parse_answer(*completion_content(raw.http_response.text), schema)
        problem = self._bounds_problem(answer)
        if problem:
            raise _InvalidAnswer(f"the answer holds {problem}")
        return answer

    def _bounds_problem(self, answer: dict) -> str | None:
        return bounds_problem(answer, self.cfg["max_chars"], self.cfg["max_segments"])

    def _call_with_retries(self, step, messages, fmt, schema):
        import openai

        attempts = self.cfg["max_retries"] + 1
        for attempt in range(attempts):
            try:
                return self._request_once(messages, fmt, schema)
            except (openai.APIError, _InvalidAnswer) as exc:
                reason = self._reason(exc)
                if not _transient(exc):        # 4xx other than 429: our request is wrong, asking again won't help
                    raise LLMError(f"step {step}: {self.endpoint} refused the request; reason: {reason}") from exc
                if attempt + 1 == attempts:
                    raise LLMError(f"step {step}: gave up after {attempts} attempts at {self.endpoint}; "
                                   f"last reason: {reason}") from exc
                delay = self._retry_delay(step, attempt, exc)
                log.warning("%s: %s; retrying in %.2fs (%d/%d)", step, reason, delay, attempt + 1, attempts - 1)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _retry_delay(self, step: str, attempt: int, exc: Exception) -> float:
        """Exponential backoff, or the server's Retry-After when it gave one; never over backoff_max_s."""
        import openai

        cap = self.cfg["backoff_max_s"]
        asked = retry_after_s(exc.response.headers) if isinstance(exc, openai.APIStatusError) else None
        if asked is None:
            return min(cap, self.cfg["backoff_s"] * 2 ** attempt)
        if asked > cap:
            log.warning("%s: the server asked to wait %.1fs; waiting describe.openai.backoff_max_s = %.1fs",
                        step, asked, cap)
        return min(cap, asked)

    def _reason(self, exc: Exception) -> str:
        """What went wrong, in words, with the key masked (an error body may echo it back)."""
        if isinstance(exc, _InvalidAnswer):
            reason = str(exc)
        else:
            reason = f"{type(exc).__name__}: {exc}"
            if exc.__cause__ is not None:         # the socket-level cause: refused, reset, cut off
                reason += f" ({exc.__cause__})"
        return redact(reason, self._secrets)

    # ------------------------------------------------------------------ the GSP steps
    def _language(self) -> str:
        """The prompts' language line: what the gloss and the entries are in, what to write in."""
        glosses, knowledge, out = (language_name(self.languages[k]) for k in ("glosses", "knowledge", "descriptions"))
        return (f"The sign's gloss is in {glosses} and the dictionary entries are in {knowledge}. "
                f"Write every text of your answer in {out}.")

    def grounding(self, entries: list[Entry]) -> list[Entry]:
        """The entries the primary prompt carries: every grounding entry (gsp.grounding_entries)."""
        return entries

    def primary(self, gloss: str, entries: list[Entry]) -> str:
        if not entries:
            return self._ask("primary", prompt("primary_nokb.txt").format(gloss=gloss, language=self._language())
                             )["description"]
        return self._ask("primary", prompt("primary.txt").format(gloss=gloss, knowledge=entry_blocks(entries),
                                                                 language=self._language()))["description"]

    def refine(self, gloss: str, text: str) -> tuple[str, list[str], list[str]]:
        unresolved, followed = [], []
        pending, seen = [text], set()
        while pending:                 # follow references transitively (X's entry may name a handshape)
            signs, shapes = find_references(pending.pop())
            for ref in signs + [f"{h} handshape" for h in shapes]:
                if ref.lower() in seen:
                    continue
                seen.add(ref.lower())
                entry = self.kb.lookup(ref)
                if entry is None:
                    unresolved.append(ref)
                    continue
                followed.append(entry)
                pending.append(entry.text)
        refs = entry_blocks(followed) or "(none)"
        answer = self._ask("refine", prompt("refine.txt").format(gloss=gloss, text=quoted(text), references=refs,
                                                                 language=self._language()))
        return answer["refined"], [e.id for e in followed], unresolved

    def synonyms(self, gloss: str, n: int, knowledge: list[Entry]) -> tuple[list[str], str]:
        """Eq. 4 (P2, "The sign <>'s synonym"): from the label and the dictionary entries the
        description was grounded in, never from the description itself."""
        grounding = ("Dictionary entries for it and the entries they refer to, quoted as reference data:\n"
                     + entry_blocks(knowledge) if knowledge else "")
        answer = self._ask("synonyms", prompt("synonyms_label.txt").format(gloss=gloss, knowledge=grounding, n=n,
                                                                           language=self._language()))
        written = [s for s in answer["synonyms"] if s.strip()]
        if len(written) < n:     # fewer texts for the synonym term, not a wrong one: the run goes on
            log.warning("%s: the model wrote %d synonym(s) of the %d asked (describe.synonyms)", gloss,
                        len(written), n)
        return written[:n], "llm"

    def decompose(self, gloss: str, text: str) -> list[dict]:
        answer = self._ask("decompose", prompt("decompose.txt").format(gloss=gloss, text=quoted(text),
                                                                       language=self._language()))
        return [{"text": s["text"], "parts": [p for p in PART_NAMES if p in s["parts"]]} for s in answer["segments"]]


def _transient(exc: Exception) -> bool:
    """Worth asking again: the network, the server's load or a garbled answer, not our request."""
    import openai

    if isinstance(exc, (openai.APIConnectionError, _InvalidAnswer)):
        return True
    return isinstance(exc, openai.APIStatusError) and (exc.status_code in (408, 429) or exc.status_code >= 500)
