"""What a dataset's manifest is read from, made a dependency of both DAGs (issue 28: an edited
byo CSV reran nothing, because the manifest stage's inputs were its code and params only).

The `sources` stage writes results/<dataset>/sources.json: the sha256 of each list file the
adapter reads (AUTSL's label and class files, SLR-500's gloss list, a byo CSV) and, for the
videos, a listing (relative path, size, mtime) of each folder layout or of the files a CSV names.
The manifest stage depends on it, so an edit there reruns manifest and what follows, and a
rerun that finds the same listing changes nothing downstream. Snakemake reruns `sources` when the
record it would write differs from the one on disk (the Snakefile computes it when it is read,
as a param); DVC, which cannot list a dataset-dependent set of paths as deps, runs the stage on
every `dvc repro` (`always_changed`) and the unchanged file stops the rerun there.

Sizes and mtimes, not contents, for the videos: hashing a 100 GB download on every run is what
this avoids; a video replaced by one of the same size and mtime goes unseen (touch it).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..io import file_digest
from ..registry import load
from .adapters import ADAPTERS, Sources


def _listing(paths: tuple[Path, ...]) -> dict:
    """(count, sha256) of the (path, size, mtime) of every file under ``paths``; a file that is
    not a regular one (a FIFO named .mp4) by its type only: it is never opened."""
    found = []
    for top in paths:
        if top.is_dir():
            found += [Path(folder) / name for folder, _, names in os.walk(top) for name in names]
        else:
            found.append(top)
    h = hashlib.sha256()
    for path in sorted(set(found)):
        try:
            st = path.stat()
            stamp = f"{st.st_size} {st.st_mtime_ns}" if path.is_file() else "not a regular file"
        except OSError:
            stamp = "missing"
        h.update(f"{path}\0{stamp}\n".encode())
    return {"entries": len(set(found)), "sha256": h.hexdigest()}


def dataset_sources(params: dict) -> Sources:
    entry = ADAPTERS[params["dataset"]]
    if entry.sources is None:           # generated from params, which are a dependency already
        return Sources()
    return load(entry.sources)(params["datasets"][params["dataset"]])


def sources_record(params: dict) -> dict:
    """What sources.json holds for the dataset the params name."""
    sources = dataset_sources(params)
    return {"dataset": params["dataset"],
            "files": {str(p): file_digest(p) if p.is_file() else "missing or not a file" for p in sources.files},
            "videos": _listing(sources.trees)}


def record_digest(record: dict) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
