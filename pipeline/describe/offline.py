"""The ``offline`` provider: a deterministic, knowledge-grounded composer that needs
no model. It is what runs with no key and no network. What it is: retrieval of the
class's own entry, rule-based refinement (references.py), lexicon-based part tagging
and meaning-preserving rule paraphrases. What it is not: a language model; it cannot
write a description for a sign its knowledge base does not define, nor invent the
'LLM without knowledge base' ablation."""
from __future__ import annotations

import itertools
import re

from .knowledge import Entry, KnowledgeBase
from .lexicon import PARAPHRASE_GROUPS, paraphrase, split_sentences, tag_parts
from .references import refine

VERSION = "offline-composer-1"

_LOCATION_BREAK = re.compile(r",?\s+(?=(?:is|are) (?:placed|positioned|held|kept)\b)")
_MOVEMENT_BREAK = re.compile(
    r",?\s+(?:and\s+)(?=(?:moves?|travels?|taps?|touch(?:es)? lightly|push(?:es)?|thrusts?|wiggles?|twists?|"
    r"rests?|circles?)\b)")
_SUBJECT = re.compile(r"^((?:The|Both|Each|the|both|each)\s+(?:[\w-]+\s+)?hands?)\b")


class OfflineProvider:
    name = "offline"
    model = None
    version = VERSION

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb

    def primary(self, gloss: str, own: Entry | None, retrieved: list[Entry]) -> str:
        if own is None:
            raise LookupError(gloss)
        return own.text

    def refine(self, gloss: str, text: str) -> tuple[str, list[str], list[str]]:
        r = refine(text, self.kb)
        return r.text, r.used, r.unresolved

    def synonyms(self, gloss: str, text: str, n: int) -> list[str]:
        out: list[str] = []
        for size in range(1, len(PARAPHRASE_GROUPS) + 1):
            for groups in itertools.combinations(range(len(PARAPHRASE_GROUPS)), size):
                variant = paraphrase(text, groups)
                if variant != text and variant not in out:
                    out.append(variant)
                if len(out) == n:
                    return out
        return out

    def decompose(self, gloss: str, text: str) -> list[dict]:
        return decompose(text)


def decompose(text: str) -> list[dict]:
    """Split a description into clause-sized segments (subject, location, movement,
    non-manual) and tag each with the body parts it involves."""
    segments: list[dict] = []
    for sentence in split_sentences(text):
        for clause in re.split(r";\s*", sentence.rstrip(".")):
            clause = clause.strip()
            if not clause:
                continue
            m = _SUBJECT.match(clause)
            subject = m.group(1) if m else None
            pieces = [p for part in _LOCATION_BREAK.split(clause) for p in _MOVEMENT_BREAK.split(part)]
            for k, piece in enumerate(p.strip(" ,") for p in pieces):
                if not piece:
                    continue
                if k > 0 and subject:
                    piece = f"{subject[:1].upper()}{subject[1:]} {piece}"
                piece = piece[:1].upper() + piece[1:] + "."
                segments.append({"text": piece, "parts": tag_parts(piece)})
    return [s for s in segments if s["parts"]]
