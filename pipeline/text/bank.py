"""The text bank: every class's encoded texts, as the embed stage writes them
(safetensors) and the training loop reads them.

    global          [C, D]     one global description per class
    synonyms        [C, S, D]  synonym variants, padded; synonym_mask [C, S]
    segments        [M, D]     part segments of all classes
    segment_class   [M]        the class of each segment
    segment_parts   [M, P]     1 where the segment is tagged with part p (PARTS order)
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

from ..data.wholebody import PART_NAMES as PARTS
from ..io import atomic_path


@dataclass
class TextBank:
    global_: np.ndarray
    synonyms: np.ndarray
    synonym_mask: np.ndarray
    segments: np.ndarray
    segment_class: np.ndarray
    segment_parts: np.ndarray
    meta: dict

    @property
    def dim(self) -> int:
        return int(self.global_.shape[1])

    @property
    def num_classes(self) -> int:
        return int(self.global_.shape[0])

    def save(self, path: str | Path) -> None:
        tensors = {"global": self.global_, "synonyms": self.synonyms,
                   "synonym_mask": self.synonym_mask.astype(np.uint8), "segments": self.segments,
                   "segment_class": self.segment_class.astype(np.int64),
                   "segment_parts": self.segment_parts.astype(np.uint8)}
        with atomic_path(path) as tmp:
            save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(tmp),
                      metadata={"gspmc": json.dumps(self.meta, sort_keys=True)})

    @staticmethod
    def load(path: str | Path) -> "TextBank":
        from safetensors import safe_open
        t = load_file(str(path))
        with safe_open(str(path), framework="numpy") as f:
            meta = json.loads((f.metadata() or {}).get("gspmc", "{}"))
        return TextBank(t["global"], t["synonyms"], t["synonym_mask"].astype(bool), t["segments"],
                        t["segment_class"], t["segment_parts"].astype(bool), meta)

    def to_torch(self, device) -> dict[str, torch.Tensor]:
        return {"global": torch.from_numpy(self.global_).to(device),
                "synonyms": torch.from_numpy(self.synonyms).to(device),
                "synonym_mask": torch.from_numpy(self.synonym_mask).to(device),
                "segments": torch.from_numpy(self.segments).to(device),
                "segment_class": torch.from_numpy(self.segment_class).to(device),
                "segment_parts": torch.from_numpy(self.segment_parts).to(device)}
