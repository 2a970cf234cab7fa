"""How much of a description copies the renderer's own phrases (issue 27).

The renderer's phrases are the names phonology.py gives the values it renders from: locations
("at the chin"), movements ("taps the location"), palm orientations ("palm facing down") and
the handshape definitions that state the rendered finger states. A description token counts as
copied if it lies inside

- ``verbatim``: a whole renderer phrase, word for word (the stricter sense of copying), or
- ``trigram``: a word 3-gram that also occurs in some renderer phrase (catches partial copies,
  and common English such as "in front of" too: an upper bound).

Shares are over all tokens of the texts given (lower-case words).
"""
from __future__ import annotations

import re

from .phonology import HANDSHAPES, LOCATIONS, MOVEMENTS, ORIENTATIONS

_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def renderer_phrases() -> list[list[str]]:
    phrases = ([loc[2] for loc in LOCATIONS.values()] + list(MOVEMENTS.values()) + list(ORIENTATIONS.values())
               + [h.definition for h in HANDSHAPES.values()])
    return [w for w in (words(p) for p in phrases) if len(w) >= 2]


def copy_share(texts: list[str]) -> dict:
    """{"tokens", "verbatim", "trigram"}: the shares of the texts' tokens copied in either sense."""
    phrases = renderer_phrases()
    trigrams = {tuple(p[i:i + 3]) for p in phrases for i in range(len(p) - 2)}
    total = verbatim = trigram = 0
    for text in texts:
        w = words(text)
        in_phrase = [False] * len(w)
        in_trigram = [False] * len(w)
        for p in phrases:
            for i in range(len(w) - len(p) + 1):
                if w[i:i + len(p)] == p:
                    in_phrase[i:i + len(p)] = [True] * len(p)
        for i in range(len(w) - 2):
            if tuple(w[i:i + 3]) in trigrams:
                in_trigram[i:i + 3] = [True] * 3
        total += len(w)
        verbatim += sum(in_phrase)
        trigram += sum(in_trigram)
    return {"tokens": total, "verbatim": verbatim / max(total, 1), "trigram": trigram / max(total, 1)}
