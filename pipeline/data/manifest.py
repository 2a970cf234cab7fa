"""The manifest and class list contracts, and their checks."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

MANIFEST_COLUMNS = ["sample_id", "split", "signer", "label", "gloss", "video", "n_frames", "fps"]
SPLITS = ("train", "val", "test")


def read_classes(path: str | Path) -> pd.DataFrame:
    # glosses as written: "001" stays a string (not the integer 1), "NA" and "null" stay words
    classes = pd.read_csv(path, keep_default_na=False, dtype={"gloss": str})
    if list(classes.columns[:2]) != ["label", "gloss"]:
        raise ValueError(f"{path}: expected columns label,gloss; got {','.join(classes.columns)}")
    if list(classes["label"]) != list(range(len(classes))):
        raise ValueError(f"{path}: labels must be 0..{len(classes) - 1} in order")
    return classes


def check_manifest(manifest: pd.DataFrame, classes: pd.DataFrame, source: str = "manifest") -> None:
    """Raise naming the first offending sample: unknown split, label outside the class
    list, gloss not matching its label, duplicate sample ids."""
    missing = [c for c in MANIFEST_COLUMNS if c not in manifest.columns]
    if missing:
        raise ValueError(f"{source}: missing columns {missing}")
    dup = manifest["sample_id"][manifest["sample_id"].duplicated()]
    if len(dup):
        raise ValueError(f"{source}: duplicate sample_id {dup.iloc[0]!r}")
    bad_split = manifest[~manifest["split"].isin(SPLITS)]
    if len(bad_split):
        row = bad_split.iloc[0]
        raise ValueError(f"{source}: sample {row.sample_id!r} has split {row.split!r}; expected one of {SPLITS}")
    n = len(classes)
    bad = manifest[(manifest["label"] < 0) | (manifest["label"] >= n)]
    if len(bad):
        row = bad.iloc[0]
        raise ValueError(f"{source}: sample {row.sample_id!r} has label {row.label}, outside the "
                         f"class list (0..{n - 1})")
    gloss_of = dict(zip(classes["label"], classes["gloss"]))
    wrong = manifest[manifest["gloss"] != manifest["label"].map(gloss_of)]
    if len(wrong):
        row = wrong.iloc[0]
        raise ValueError(f"{source}: sample {row.sample_id!r} has gloss {row.gloss!r} but label "
                         f"{row.label} is {gloss_of[row.label]!r} in the class list")
