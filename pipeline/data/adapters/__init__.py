"""Dataset adapters: what the manifest stage writes for each `dataset`.

One table (ADAPTERS) names each dataset beside its adapter; the params schema's enum is
checked against it. A downloaded dataset's adapter (an official download, or your own
list) returns (manifest, classes) in the contracts of pipeline/data/manifest.py, with
`n_frames` and `fps` 0 (unknown until the pose stage decodes the video). The demo's is
generated: it returns the whole Dataset, its synthetic corpus and dictionary included.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ...registry import load

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


@dataclass(frozen=True)
class Dataset:
    """What the manifest stage writes: manifest.parquet, classes.csv, knowledge/<name> for
    each entry of ``knowledge``, and ``described`` as corpus.json."""
    manifest: pd.DataFrame
    classes: pd.DataFrame
    knowledge: dict[str, str]
    described: dict


@dataclass(frozen=True)
class Sources:
    """What an adapter reads (data/sources.py makes it a dependency of the manifest stage)."""
    files: tuple[Path, ...] = ()    # by content: list files
    trees: tuple[Path, ...] = ()    # by listing (path, size, mtime): folders of videos, or the files a list names


@dataclass(frozen=True)
class AdapterEntry:
    target: str          # "module:function", imported when its dataset is asked for (pipeline/registry.py)
    generated: bool      # made from params alone (no root folder, no download)
    sources: str | None = None   # "module:function": datasets.<name> -> the files the adapter reads (data/sources.py)


ADAPTERS = {
    "demo": AdapterEntry("pipeline.data.adapters.demo:demo", True),
    "autsl": AdapterEntry("pipeline.data.adapters.autsl:autsl", False, "pipeline.data.adapters.autsl:sources"),
    "slr500": AdapterEntry("pipeline.data.adapters.slr500:slr500", False, "pipeline.data.adapters.slr500:sources"),
    "byo": AdapterEntry("pipeline.data.adapters.byo:byo", False, "pipeline.data.adapters.byo:sources"),
}
DATASETS = tuple(ADAPTERS)


def _adapter(name: str):
    if name not in ADAPTERS:
        raise ValueError(f"dataset {name!r}: no adapter (known: {', '.join(DATASETS)})")
    return load(ADAPTERS[name].target)


def build_dataset(params: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A downloaded dataset's (manifest, classes), read from datasets.<dataset>."""
    name = params["dataset"]
    if name in ADAPTERS and ADAPTERS[name].generated:
        raise ValueError(f"dataset {name!r} is generated, not read from a download: use load_dataset")
    return _adapter(name)(params)


def load_dataset(params: dict, corpus_path: Path) -> Dataset:
    """The dataset the params name. ``corpus_path``: where corpus.json will be (the demo's
    manifest names it as every sample's source, which the synthetic pose backend renders)."""
    name = params["dataset"]
    if name in ADAPTERS and ADAPTERS[name].generated:
        return _adapter(name)(params, corpus_path)
    manifest, classes = build_dataset(params)
    knowledge = {"README.md": f"# Knowledge base of {name}\n\nPut the expert dictionary of this sign "
                              f"language (txt, md, csv, pdf) in a folder and point `knowledge.path` at it.\n"}
    described = {"dataset": name, "source": params["datasets"][name], "samples": len(manifest),
                 "classes": len(classes), "splits": manifest["split"].value_counts().sort_index().to_dict()}
    return Dataset(manifest, classes, knowledge, described)
