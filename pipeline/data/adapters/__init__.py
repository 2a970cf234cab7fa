"""Dataset adapters: an official download (or your own list) -> manifest + class list.

Each adapter returns (manifest, classes) in the contracts of pipeline/data/manifest.py;
`n_frames` and `fps` are 0 (unknown until the pose stage decodes the video).
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


class DatasetLayoutError(ValueError):
    """A dataset root that does not look like the layout its adapter expects."""


def root_of(cfg: dict, dataset: str, layout) -> Path:
    """datasets.<dataset>.root, or an error showing the layout (``layout(cfg)`` -> text)."""
    if not cfg["root"]:
        raise DatasetLayoutError(f"datasets.{dataset}.root: set it to the folder of the {dataset} download\n"
                                 f"expected layout:\n{layout(dict(cfg, root='<root>'))}")
    return Path(cfg["root"])


def require(paths: list[Path], dataset: str, layout: str) -> None:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise DatasetLayoutError(f"{dataset}: missing {', '.join(missing)}\nexpected layout:\n{layout}")


def manifest_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["sample_id", "split", "signer", "label", "gloss", "video"])
    frame["n_frames"], frame["fps"] = 0, 0.0
    return frame.sort_values("sample_id", ignore_index=True)


def class_frame(glosses: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"label": range(len(glosses)), "gloss": glosses})


def signer_number(name: str, pattern: str, source: str) -> int:
    m = re.search(pattern, name)
    if not m:
        raise DatasetLayoutError(f"{source}: cannot read the signer from {name!r} (expected {pattern})")
    return int(m.group(1))


def build_dataset(params: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    name = params["dataset"]
    if name == "autsl":
        from .autsl import autsl
        return autsl(params["datasets"]["autsl"])
    if name == "slr500":
        from .slr500 import slr500
        return slr500(params["datasets"]["slr500"])
    if name == "byo":
        from .byo import byo
        return byo(params["datasets"]["byo"], params["seed"])
    raise ValueError(f"dataset {name!r}: no adapter (known: demo, autsl, slr500, byo)")
