"""The demo 'backend': renders the synthetic corpus's own 133-point detections."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ... import __version__
from ...data.synthetic.corpus import Corpus


class SyntheticRenderer:
    name = "synthetic"

    def __init__(self, corpus_path: Path):
        if corpus_path is None or not Path(corpus_path).exists():
            raise FileNotFoundError(f"{corpus_path}: pose.backend synthetic needs the demo corpus.json")
        raw = Path(corpus_path).read_bytes()
        self.corpus = Corpus.from_dict(json.loads(raw))
        self.version = f"pipeline {__version__} synthetic corpus {hashlib.sha256(raw).hexdigest()[:16]}"
        self.meta = {"image_size": self.corpus.image_size, "fps": self.corpus.fps}

    def source(self, row: dict) -> str:
        return row["sample_id"]

    def digest(self, row: dict) -> str:
        return ""   # the corpus hash in `version` covers every sample

    def __call__(self, row: dict, progress=None) -> np.ndarray:
        frames = self.corpus.render(row["sample_id"])
        if progress is not None:
            progress.update(len(frames))
        return frames
