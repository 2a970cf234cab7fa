"""Text from outside (an LLM's answers, a dictionary's entries) made safe to store (issue 28).

Control characters (NUL, ESC: a terminal escape in a log or a page) and the bidirectional
overrides and isolates (text that displays in another order than it reads: "Trojan source")
are dropped; the other line breaks Unicode knows (U+2028, U+2029, NEL, CR) become "\n", so that
a reader splitting JSON lines, or a person reading a page, sees the lines the text has. Tabs and
newlines stay. Nothing else is touched: a description in any script keeps every letter.
"""
from __future__ import annotations

import re
import unicodedata

_LINE_BREAKS = re.compile("\r\n|[\r\x85\u2028\u2029]")
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_text(text: str) -> str:
    text = _LINE_BREAKS.sub("\n", text)
    return "".join(c for c in text if c in "\n\t" or not (unicodedata.category(c) == "Cc" or c in _BIDI_CONTROLS))


def clean_strings(value):
    """``value`` (str, or lists and dicts of them, as an answer or a record holds) with every
    string cleaned."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [clean_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: clean_strings(v) for k, v in value.items()}
    return value
