"""AUTSL from its official download:

    <root>/train/signer{S}_sample{N}_color.mp4    (and the _depth.mp4 files, unused)
    <root>/val/...   <root>/test/...
    <root>/<labels.train|val|test>                 rows "signer{S}_sample{N},<ClassId>", no header
    <root>/SignList_ClassId_TR_EN.csv               ClassId,TR,EN
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import DatasetLayoutError, Sources, class_frame, manifest_frame, require, root_of, signer_number

SPLITS = ("train", "val", "test")


def _layout(cfg: dict) -> str:
    return "\n".join([f"  {cfg['root']}/{s}/signer<S>_sample<N>_color.mp4" for s in SPLITS]
                     + [f"  {cfg['root']}/{cfg['labels'][s]}   (sample,ClassId rows)" for s in SPLITS]
                     + [f"  {cfg['root']}/{cfg['class_list']}   (ClassId,TR,EN)"])


def read_class_list(path: Path, gloss_column: str) -> list[str]:
    table = pd.read_csv(path, keep_default_na=False, dtype={gloss_column: str})   # "010" stays "010"
    for col in ("ClassId", gloss_column):
        if col not in table.columns:
            raise DatasetLayoutError(f"{path}: no column {col!r} (has {', '.join(table.columns)})")
    ids = sorted(table["ClassId"].astype(int))
    if ids != list(range(len(table))):
        raise DatasetLayoutError(f"{path}: ClassId must be 0..{len(table) - 1} without gaps")
    return list(table.sort_values("ClassId")[gloss_column].astype(str))


def sources(cfg: dict) -> Sources:
    if not cfg["root"]:
        return Sources()
    root = Path(cfg["root"])
    return Sources(files=tuple(root / cfg["labels"][s] for s in SPLITS) + (root / cfg["class_list"],),
                   trees=tuple(root / s for s in SPLITS))


def autsl(params: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    cfg = params["datasets"]["autsl"]
    root = root_of(cfg, "autsl", _layout)
    require([root / s for s in SPLITS] + [root / cfg["labels"][s] for s in SPLITS] + [root / cfg["class_list"]],
            "autsl", _layout(cfg))
    glosses = read_class_list(root / cfg["class_list"], cfg["gloss_column"])
    rows = []
    for split in SPLITS:
        labels = pd.read_csv(root / cfg["labels"][split], header=None, names=["sample", "label"], dtype=str)
        if labels.iloc[0]["sample"].strip().lower() in ("sample", "name", "id"):    # a header row after all
            labels = labels.iloc[1:]
        for sample, label in zip(labels["sample"].str.strip(), labels["label"].str.strip()):
            if not label.isdigit() or int(label) >= len(glosses):
                raise DatasetLayoutError(f"{root / cfg['labels'][split]}: sample {sample!r} has label {label!r}, "
                                         f"not a ClassId of {cfg['class_list']} (0..{len(glosses) - 1})")
            rows.append({"sample_id": sample, "split": split,
                         "signer": signer_number(sample, r"signer(\d+)_", str(root / cfg["labels"][split])),
                         "label": int(label), "gloss": glosses[int(label)],
                         "video": str(root / split / f"{sample}_color.mp4")})
    return manifest_frame(rows), class_frame(glosses)
