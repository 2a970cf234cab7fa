"""What a downloaded dataset's manifest may hold that a recognition protocol does not expect
(issue 28). None of it stops the run, each is said once by the manifest stage: a class with no
training clip (the model can still predict it, never from evidence), a class with a single
training clip, a signer in train and in test (the test is then not signer-independent, as the
paper's splits are), and class names that differ only in case or Unicode form (NFC/NFD "é",
"hello"/"Hello": two classes a reader takes for one).
"""
from __future__ import annotations

import unicodedata

import pandas as pd


def _names(values, limit: int = 8) -> str:
    values = [str(v) for v in values]
    return ", ".join(repr(v) for v in values[:limit]) + (f" and {len(values) - limit} more" if len(values) > limit
                                                         else "")


def protocol_warnings(manifest: pd.DataFrame, classes: pd.DataFrame) -> list[str]:
    train = manifest[manifest["split"] == "train"]
    per_class = train["label"].value_counts().reindex(classes["label"], fill_value=0)
    gloss_of = dict(zip(classes["label"], classes["gloss"]))
    found = []
    untrained = [gloss_of[k] for k, n in per_class.items() if n == 0]
    if untrained:
        found.append(f"{len(untrained)} class(es) with no training clip: {_names(untrained)}; the model cannot "
                     f"learn them and will still predict them")
    single = [gloss_of[k] for k, n in per_class.items() if n == 1]
    if single:
        found.append(f"{len(single)} class(es) with one training clip: {_names(single)}")
    for other in ("val", "test"):
        shared = sorted(set(train["signer"]) & set(manifest.loc[manifest["split"] == other, "signer"]))
        if shared:
            found.append(f"signer(s) {_names(shared)} in both train and {other}: {other} is not signer-independent")
    # ascii(): 'caf\xe9' and 'cafe\u0301' print alike as text, not as code points
    found += [f"classes {ascii(a)} and {ascii(b)} differ only in case or Unicode form: two classes, named alike"
              for a, b in lookalike_pairs(classes["gloss"].astype(str).tolist())]
    return found


def lookalike_pairs(glosses: list[str]) -> list[tuple[str, str]]:
    """Pairs of distinct names equal once case-folded and NFKC-normalised."""
    first: dict[str, str] = {}
    pairs = []
    for gloss in glosses:
        key = unicodedata.normalize("NFKC", gloss).casefold()
        if key in first and first[key] != gloss:
            pairs.append((first[key], gloss))
        first.setdefault(key, gloss)
    return pairs
