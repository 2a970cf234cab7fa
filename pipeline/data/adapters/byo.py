"""Bring your own data: a CSV of (path, label, signer, split), or one folder per class.

CSV: `path` is relative to the CSV's folder unless absolute; `label` is the gloss (any
text); `signer` an integer; `split` train/val/test. Folders: <root>/<gloss>/<video>;
without signers or splits, each video goes to val/test by a stable hash of its path with
`val_fraction`/`test_fraction` (the split is then not signer-independent: say so in results).
Class ids follow the sorted glosses (numerically when every gloss is a number).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from . import VIDEO_SUFFIXES, DatasetLayoutError, class_frame, manifest_frame

CSV_COLUMNS = ["path", "label", "signer", "split"]


def _sorted_glosses(glosses) -> list[str]:
    unique = sorted(set(glosses))
    return sorted(unique, key=int) if all(g.isdigit() for g in unique) else unique


def _hash_split(key: str, val_fraction: float, test_fraction: float) -> str:
    u = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) / 0x100000000
    return "test" if u < test_fraction else "val" if u < test_fraction + val_fraction else "train"


def _sample_id(rel: str) -> str:
    return str(Path(rel).with_suffix("")).replace("/", "__")


def byo(cfg: dict, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    if bool(cfg["csv"]) == bool(cfg["root"]):
        raise DatasetLayoutError("datasets.byo: set exactly one of csv (a path,label,signer,split file) "
                                 "or root (one folder per class)")
    if cfg["csv"]:
        path = Path(cfg["csv"])
        if not path.is_file():
            raise DatasetLayoutError(f"{path}: datasets.byo.csv does not exist (expected columns "
                                     f"{','.join(CSV_COLUMNS)})")
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        missing = [c for c in CSV_COLUMNS if c not in table.columns]
        if missing:
            raise DatasetLayoutError(f"{path}: missing columns {missing} (expected {','.join(CSV_COLUMNS)})")
        bad = table[~table["signer"].str.fullmatch(r"\d+")]
        if len(bad):
            raise DatasetLayoutError(f"{path}: row {bad.index[0] + 2}: signer {bad.iloc[0]['signer']!r} "
                                     f"is not an integer")
        glosses = _sorted_glosses(table["label"])
        label_of = {g: k for k, g in enumerate(glosses)}
        rows = [{"sample_id": _sample_id(r.path), "split": r.split, "signer": int(r.signer),
                 "label": label_of[r.label], "gloss": r.label,
                 "video": str(Path(r.path) if Path(r.path).is_absolute() else path.parent / r.path)}
                for r in table.itertuples()]
        return manifest_frame(rows), class_frame(glosses)
    root = Path(cfg["root"])
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: datasets.byo.root is not a folder (expected <root>/<gloss>/<video>)")
    videos = sorted(p for p in root.glob("*/*") if p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise DatasetLayoutError(f"{root}: no videos ({', '.join(VIDEO_SUFFIXES)}) in <root>/<gloss>/")
    glosses = _sorted_glosses(p.parent.name for p in videos)
    label_of = {g: k for k, g in enumerate(glosses)}
    rows = []
    for p in videos:
        rel = str(p.relative_to(root))
        rows.append({"sample_id": _sample_id(rel), "signer": 0, "label": label_of[p.parent.name],
                     "gloss": p.parent.name, "video": str(p),
                     "split": _hash_split(f"{seed}:{rel}", cfg["val_fraction"], cfg["test_fraction"])})
    return manifest_frame(rows), class_frame(glosses)
