"""The demo 'backend': renders the synthetic corpus's own 133-point detections.

The demo manifest names the corpus as every sample's source (its `video` column), so this
backend is given what every backend is given: a manifest row."""
from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

import numpy as np

from ... import __version__
from ...data.synthetic.corpus import Corpus


@cache
def _read_corpus(path: str) -> tuple[Corpus, str]:
    """The corpus at ``path`` and its content hash (read once per process)."""
    if not path or not Path(path).exists():
        raise FileNotFoundError(f"{path or '(empty video column)'}: pose.backend synthetic renders the demo "
                                f"corpus.json the manifest names as each sample's source; rerun the manifest stage")
    raw = Path(path).read_bytes()
    return Corpus.from_dict(json.loads(raw)), hashlib.sha256(raw).hexdigest()


class SyntheticRenderer:
    name = "synthetic"
    version = f"pipeline {__version__} synthetic"

    def __init__(self):
        self.meta = {}      # the corpus's image size and fps, once a sample is rendered

    def source(self, row: dict) -> str:
        return row["sample_id"]

    def digest(self, row: dict) -> str:
        return _read_corpus(row["video"])[1]    # the corpus's hash covers the sample's whole recipe

    def __call__(self, row: dict, progress=None) -> np.ndarray:
        corpus = _read_corpus(row["video"])[0]
        self.meta = {"image_size": corpus.image_size, "fps": corpus.fps}
        frames = corpus.render(row["sample_id"])
        if progress is not None:
            progress.update(len(frames))
        return frames
