"""The ``offline`` provider: a deterministic, knowledge-grounded composer that needs
no model. It is what runs with no key and no network. What it is: retrieval of the
class's own entry, rule-based refinement (references.py), lexicon-based part tagging
and rule-made synonym texts. What it is not: a language model; it cannot write a
description for a sign its knowledge base does not define, nor invent the
'LLM without knowledge base' ablation.

Primary description (Eq. 3): the class's own dictionary entry, verbatim. The other
top-k retrieved entries are *not* used (mixing a neighbour sign's text in would describe
a different sign); ``grounding`` says so, and provenance ``used`` lists only the own entry,
so the Table-1 report shows the neighbours as retrieved but not used.

Synonyms (Eq. 4), ``describe.synonym_source``:
- ``label`` (default, the paper's reading: T_s = LLM(label, P2)): with no language model,
  the composer's only knowledge of a label is that label's description (the refined
  entry for ``gsp``). Each synonym is a *label-led restatement* of it: "For <label>, "
  then every action clause of the description (handshape, location, movement, mouth,
  brows: the clauses ``decompose`` splits it into), synonym k starting with clause k+1 and wrapping
  round (so each synonym leads with a different component and none keeps the global
  text's order), with word-swap group k of lexicon.PARAPHRASE_GROUPS applied. Every
  clause is kept because the synonyms are positives for their class: on the demo, whose
  minimal pairs differ in one clause, leaving a different clause out in each synonym left
  only 65-78% of them closer (MiniLM cosine) to their own global text than to the nearest
  other class's, against 89% keeping them all; and a label-first opening ("The sign
  night: ...") let the label word's meaning dominate the embedding (46%).
- ``description``: the global text with a different subset of word swaps per synonym
  (near-copies of the global text; measured cosine 0.98 with MiniLM).
"""
from __future__ import annotations

import itertools
import re

from .gsp import label_text
from .knowledge import Entry, KnowledgeBase
from .lexicon import PARAPHRASE_GROUPS, paraphrase, split_sentences, tag_parts
from .references import refine

VERSION = "offline-composer-2"   # 2: label-led synonyms, body = the body's own keypoints, provenance 'used'

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

    def __init__(self, kb: KnowledgeBase):
        self.kb = kb

    @classmethod
    def from_params(cls, describe: dict, kb: KnowledgeBase) -> "OfflineProvider":
        return cls(kb)      # it has no settings

    def grounding(self, own: Entry | None, retrieved: list[Entry]) -> list[Entry]:
        """The entries ``primary`` draws on: the class's own entry only (see the module doc)."""
        return [own] if own else []

    def primary(self, gloss: str, own: Entry | None, retrieved: list[Entry]) -> str:
        if own is None:
            raise LookupError(gloss)
        return own.text

    def refine(self, gloss: str, text: str) -> tuple[str, list[str], list[str]]:
        r = refine(text, self.kb)
        return r.text, r.used, r.unresolved

    def synonyms(self, gloss: str, text: str, n: int) -> list[str]:
        """``synonym_source: description``: word-swap rewordings of the global text."""
        out: list[str] = []
        for size in range(1, len(PARAPHRASE_GROUPS) + 1):
            for groups in itertools.combinations(range(len(PARAPHRASE_GROUPS)), size):
                variant = paraphrase(text, groups)
                if variant != text and variant not in out:
                    out.append(variant)
                if len(out) == n:
                    return out
        return out

    def label_synonyms(self, gloss: str, n: int, description: str, knowledge: list[Entry]) -> list[str]:
        """``synonym_source: label``: label-led restatements of the label's description
        (``knowledge`` is for a language model; the composer reads the description)."""
        return label_restatements(label_text(gloss), clauses(description), n)

    def decompose(self, gloss: str, text: str) -> list[dict]:
        return decompose(text)


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


def _lower_first(clause: str) -> str:
    # "The dominant hand" -> "the dominant hand", but keep "V", "I" or a name as written
    return clause[:1].lower() + clause[1:] if re.match(r"[A-Z][a-z]", clause) else clause


def label_restatement(label: str, parts: list[str], k: int) -> str:
    """Synonym k: "For <label>, " and every clause, starting with clause k+1, with word-swap group k."""
    start = (k + 1) % len(parts)
    ordered = parts[start:] + parts[:start]
    text = " ".join([f"For {label}, {_lower_first(ordered[0])}", *ordered[1:]])
    return paraphrase(text, (k % len(PARAPHRASE_GROUPS),))


def label_restatements(label: str, parts: list[str], n: int) -> list[str]:
    """n distinct label-led restatements (fewer only if the clauses and word swaps allow no more)."""
    out: list[str] = []
    if not parts:
        return out
    for k in range(len(parts) * len(PARAPHRASE_GROUPS)):     # bounded: past this, (start, group) repeat
        text = label_restatement(label, parts, k)
        if text not in out:
            out.append(text)
        if len(out) == n:
            break
    return out
