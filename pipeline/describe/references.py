"""Refinement without a model (paper Eq. 5): resolve what a dictionary entry refers to
and keep only what describes the action.

- "As in the sign X, but <difference>" (or "Like X, except ..."): X's entry (itself refined, recursively) with
  the difference applied to the parameter it names; an unknown kind of difference is
  appended as a contrast, so the text is self-contained either way.
- "the V handshape": replaced by the manual-alphabet entry's definition.
- Remarks (origin, homophones, usage, ...) and sentences with no action in them are
  dropped before references are followed, so "compare X" remarks are never expanded.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .knowledge import KnowledgeBase
from .lexicon import HANDSHAPE_REFERENCE, SIGN_REFERENCE, is_action_sentence, split_sentences

# "As in the sign X, but ...", "Like X, except ...", "Same as X but ..."
_AS_IN = re.compile(r"^\s*(?:As in|Like|Same as)(?: the sign)? ([A-Z][A-Z0-9'-]+(?: [A-Z][A-Z0-9'-]+)*)\s*,?\s*"
                    r"(?:but|except(?: that)?)\s+(.+?)\.?\s*$")
_PLURAL = {"moves": "move", "taps": "tap", "pushes": "push", "wiggles": "wiggle", "twists": "twist",
           "travels": "travel", "rests": "rest"}
_MOUTH_SENTENCE = re.compile(r"\b(mouth|lips|cheeks are puffed)\b", re.I)
_BROW_SENTENCE = re.compile(r"\b(brows|eyebrows|face stays)\b", re.I)


@dataclass
class Refinement:
    text: str
    used: list[str] = field(default_factory=list)          # entry ids followed
    unresolved: list[str] = field(default_factory=list)    # references left as they were


def drop_remarks(text: str) -> str:
    keep = [s for s in split_sentences(text) if _AS_IN.match(s) or is_action_sentence(s)]
    return " ".join(keep)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _sentence(s: str) -> str:
    s = _cap(s.strip())
    return s if s.endswith(".") else s + "."


def _replace_sentences(base: str, pattern: re.Pattern, new: str) -> str:
    """``base`` without the sentences (or the ';'-clauses of one: "Face: lips pursed; eyebrows
    up.") that ``pattern`` finds, and ``new`` appended."""
    kept = []
    for sentence in split_sentences(base):
        clauses = [c for c in re.split(r";\s*", sentence.rstrip(".")) if not pattern.search(c)]
        if clauses:
            kept.append(_sentence("; ".join(clauses)))
    return " ".join(kept + [_sentence(new)])


def apply_difference(base: str, diff: str) -> str:
    """The base sign's text with one parameter changed as ``diff`` says."""
    diff = diff.strip().rstrip(".")
    plural = bool(re.match(r"^Both hands", base))
    m = re.match(r"^the hand takes the (\S+) handshape$", diff)
    if m and re.search(r"in the \S+ handshape", base):
        # the dominant hand's handshape: the last one named (a base hand is named first)
        matches = list(re.finditer(r"in the \S+ handshape", base))
        target = matches[-1] if "non-dominant" in base else matches[0]
        return base[:target.start()] + f"in the {m.group(1)} handshape" + base[target.end():]
    m = re.match(r"^the sign is made (.+)$", diff)
    if m and re.search(r"\b(is|are) placed .+? and ", base):
        return re.sub(r"\b(is|are) placed .+? and ", lambda k: f"{k.group(1)} placed {m.group(1)} and ", base, count=1)
    m = re.match(r"^the hand is held with the (palm facing .+)$", diff)
    if m and re.search(r"palm facing [^,;]+", base):
        return re.sub(r"palm facing [^,;]+", m.group(1), base, count=1)
    m = re.match(r"^the hand (.+)$", diff)
    if m and re.search(r" and [^,;]+(, (once|twice|three times)\.)", base):
        move = m.group(1)
        if plural:
            first, _, rest = move.partition(" ")
            move = f"{_PLURAL.get(first, first)} {rest}".strip()
        return re.sub(r" and [^,;]+(, (once|twice|three times)\.)", lambda k: f" and {move}{k.group(1)}", base,
                      count=1)
    m = re.match(r"^the movement is made (once|twice|three times)$", diff)
    if m and re.search(r", (once|twice|three times)\.", base):
        return re.sub(r", (once|twice|three times)\.", f", {m.group(1)}.", base, count=1)
    if _MOUTH_SENTENCE.search(diff):
        return _replace_sentences(base, _MOUTH_SENTENCE, diff)
    if _BROW_SENTENCE.search(diff):
        return _replace_sentences(base, _BROW_SENTENCE, diff)
    return f"{base.rstrip('.')}. Unlike that sign, {diff}."


def expand_sign_references(text: str, kb: KnowledgeBase, used: list[str], unresolved: list[str],
                           stack: tuple[str, ...] = ()) -> str:
    out = []
    for sentence in split_sentences(drop_remarks(text)):
        m = _AS_IN.match(sentence)
        if not m:
            out.append(sentence)
            continue
        name, diff = m.group(1), m.group(2)
        entry = kb.lookup(name)
        if entry is None or name.lower() in stack:
            unresolved.append(f"sign {name}")
            out.append(sentence)
            continue
        used.append(entry.id)
        base = expand_sign_references(entry.text, kb, used, unresolved, stack + (name.lower(),))
        out.append(apply_difference(base, diff))
    return " ".join(out)


def resolve_handshapes(text: str, kb: KnowledgeBase, used: list[str], unresolved: list[str]) -> str:
    def replace(m: re.Match) -> str:
        entry = kb.lookup(f"{m.group(1)} handshape")
        if entry is None:
            unresolved.append(f"handshape {m.group(1)}")
            return m.group(0)
        used.append(entry.id)
        definition = entry.text.strip().rstrip(".")
        return f"with {definition[:1].lower()}{definition[1:]}"
    return HANDSHAPE_REFERENCE.sub(replace, text)


def refine(text: str, kb: KnowledgeBase) -> Refinement:
    used: list[str] = []
    unresolved: list[str] = []
    expanded = expand_sign_references(text, kb, used, unresolved)
    resolved = resolve_handshapes(expanded, kb, used, unresolved)
    final = drop_remarks(resolved)
    return Refinement(final, list(dict.fromkeys(used)), unresolved)


def find_references(text: str) -> tuple[list[str], list[str]]:
    """(sign names, handshape names) a text refers to: what refinement must look up."""
    return (list(dict.fromkeys(m.group(1) for m in SIGN_REFERENCE.finditer(text))),
            list(dict.fromkeys(m.group(1) for m in HANDSHAPE_REFERENCE.finditer(text))))
