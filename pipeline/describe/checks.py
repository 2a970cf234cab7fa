"""Checks on generated descriptions, for text a language model should not have written:
instructions (a prompt injection in the knowledge base that the model obeyed, or the model
talking about itself) and text not grounded in the entries it was given (invented content,
or an injected payload such as "HACKED").

They flag, never drop: a flagged class keeps its texts, and the flag goes to provenance
``flags``, a warning in the log and the describe report, for a person to judge. Both
checks are plain word matching, cheap and deterministic, so a rerun from the cache flags
the same texts.
"""
from __future__ import annotations

import re

from .lexicon import split_sentences

# Meta-text that has no place in how a sign is performed. Imperatives a description may use
# ("place the hand", "repeat the movement") are not here; only those addressed to a model.
INSTRUCTION_PATTERNS = {
    "override": re.compile(r"\b(ignore|disregard|forget|override)\b[^.]{0,40}\b(instructions?|prompts?|rules|"
                           r"above|previous|prior)\b", re.I),
    "role": re.compile(r"\byou are (now\b|an? |the |my )", re.I),
    # "instruction" alone can be a dictionary's usage note ("used in classroom instruction")
    "meta": re.compile(r"\b(system prompt|system message|developer message|language model|as an ai|"
                       r"(the|these|your|my|previous|prior|new|following) (instructions|prompt))\b", re.I),
    "command": re.compile(r"(^|[.!?:]\s+)(write|respond|reply|answer|output|print)\b", re.I),
    "delimiter": re.compile(r"</?\s*(entry|description)\b", re.I),
}

# Below this share of its content words found in the entries it was given (or the label), a
# text is flagged as ungrounded. The demo's offline texts score 0.86-1.0; a description
# built on the entries keeps most of their words even when reworded, an invented or
# injected one keeps few. Against a knowledge base in another language than the descriptions
# every text would score low, so gsp.py does not run this check then.
MIN_GROUNDED_SHARE = 0.5

# Words the prompts themselves ask for: present in a grounded description whatever the entry says.
PROMPT_VOCABULARY = frozenset({"sign", "hand", "dominant", "non", "palm", "orientation", "location",
                               "movement", "facial", "expression", "mouth", "action", "handshape", "repetition"})
_STOPWORDS = frozenset("""the and for are but not with from into onto that this then than its it's his her their
they them there these those was were been being has have had will would can could should may might must
also each both other another while when where which what who whom whose how all any some one two very
just only same such out off over under again once here""".split())


def _stem(word: str) -> str:
    """Crude plural/tense folding, enough that "taps" matches "tap" and "moved" matches "moves"."""
    for suffix in ("ing", "es", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[:-len(suffix)]
    return word


def content_words(text: str) -> list[str]:
    return [_stem(w) for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 3 and w not in _STOPWORDS]


def descriptive(text: str) -> str:
    """The text without its instruction-like sentences: a planted "write HACKED" is not
    knowledge, so an answer that obeys it must not count as grounded in the entry."""
    return " ".join(s for s in split_sentences(text) if not instruction_hits(s))


def grounded_share(text: str, sources: list[str]) -> float:
    """Share of the content words (counted with repeats) of the text's descriptive part found
    in the descriptive part of the sources; 1.0 for a text without content words. Instruction
    sentences are left to ``instruction_hits``, so each check measures one thing."""
    words = content_words(descriptive(text))
    if not words:
        return 1.0
    known = set(PROMPT_VOCABULARY).union(*(content_words(descriptive(s)) for s in sources))
    return sum(w in known for w in words) / len(words)


def instruction_hits(text: str, names: tuple[str, ...] = ()) -> list[str]:
    """Instruction patterns the text matches. ``names``: the class's own names, masked first,
    since a sign may be called ASSISTANT or WRITE."""
    for name in names:
        text = re.sub(rf"\b{re.escape(name)}\b", "SIGN", text, flags=re.I)
    return [f"{name}: {m.group(0).strip()!r}" for name, rx in INSTRUCTION_PATTERNS.items()
            for m in [rx.search(text)] if m]


def review(texts: dict[str, str], sources: list[str] | None, names: tuple[str, ...] = ()) -> list[dict]:
    """Flags for ``texts`` (field name -> text): instructions, and grounding in ``sources``
    (the texts the description was grounded in) unless ``sources`` is None. ``names``: the
    class's own names (see ``instruction_hits``)."""
    flags = []
    for field, text in texts.items():
        for hit in instruction_hits(text, names):
            flags.append({"field": field, "check": "instructions", "detail": hit})
        if sources is not None:
            share = grounded_share(text, sources)
            if share < MIN_GROUNDED_SHARE:
                flags.append({"field": field, "check": "ungrounded",
                              "detail": f"{share:.0%} of its content words occur in the entries used "
                                        f"(minimum {MIN_GROUNDED_SHARE:.0%})"})
    return flags
