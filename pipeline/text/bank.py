"""The text bank: every class's encoded texts, as the embed stage writes them
(safetensors) and the training loop reads them.

    global           [C, D]      one global description per class
    global_members   [C, C]      [b, a]: class b's global text is also class a's (same text)
    synonyms         [C, S, D]   synonym variants, padded; synonym_mask [C, S]
    synonym_members  [C, S, C]   [b, k, a]: class b's synonym k is also one of class a's texts
    segments         [M, D]      part segments of all classes, each distinct text once
    segment_members  [M, C]      1 where the segment is a text of class c
    segment_parts    [M, P]      1 where the segment is tagged with part p (PART_NAMES order)

Meta (JSON): the encoder's name and dimension, the description variant, the part names and
which classes' synonyms are label-only variants (``label_only_synonyms``: degenerate by
construction, train/mc.py).

A text is a positive for every class that has it: two classes whose descriptions share
a sentence ("The eyebrows are raised.") both own that one segment, so the loss never
asks a skeleton to match one copy of a text and push away an identical copy.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save

from ..guards import require_finite
from ..io import atomic_path

_BOOL = ("global_members", "synonym_mask", "synonym_members", "segment_members", "segment_parts")
_FIELDS = ("global", "global_members", "synonyms", "synonym_mask", "synonym_members", "segments",
           "segment_members", "segment_parts")


class TextBankError(ValueError):
    """A text bank file that cannot be read as one; the message names the file."""


@dataclass
class TextBank:
    global_: np.ndarray
    global_members: np.ndarray
    synonyms: np.ndarray
    synonym_mask: np.ndarray
    synonym_members: np.ndarray
    segments: np.ndarray
    segment_members: np.ndarray
    segment_parts: np.ndarray
    meta: dict

    @property
    def dim(self) -> int:
        return int(self.global_.shape[1])

    @property
    def num_classes(self) -> int:
        return int(self.global_.shape[0])

    def tensors(self) -> dict[str, np.ndarray]:
        """Name -> array, in _FIELDS order (the order of the constructor's arguments)."""
        return dict(zip(_FIELDS, (self.global_, self.global_members, self.synonyms, self.synonym_mask,
                                  self.synonym_members, self.segments, self.segment_members, self.segment_parts)))

    def require_finite(self, source: str | Path) -> None:
        """Every embedding finite: a NaN here trains every weight to NaN."""
        for name in ("global", "synonyms", "segments"):
            require_finite(self.tensors()[name], f"{source}: text bank tensor {name!r}")

    def save(self, path: str | Path) -> None:
        self.require_finite(path)
        tensors = {k: np.ascontiguousarray(v.astype(np.uint8) if k in _BOOL else v)
                   for k, v in self.tensors().items()}
        # bytes, not save_file: save_file replaces the file with a new one of mode 0600
        data = save(tensors, metadata={"gspmc": json.dumps(self.meta, sort_keys=True)})
        with atomic_path(path) as tmp:
            tmp.write_bytes(data)

    @staticmethod
    def load(path: str | Path) -> "TextBank":
        from safetensors import SafetensorError, safe_open
        try:
            t = load_file(str(path))
            with safe_open(str(path), framework="numpy") as f:
                meta = json.loads((f.metadata() or {}).get("gspmc", "{}"))
        except (SafetensorError, OSError, ValueError) as exc:
            raise TextBankError(f"{path}: not a readable text bank ({exc}); rerun the embed stage") from exc
        missing = [k for k in _FIELDS if k not in t]
        if missing:
            raise TextBankError(f"{path}: text bank lacks tensors {missing}; rerun the embed stage")
        t = {k: v.astype(bool) if k in _BOOL else v for k, v in t.items()}
        bank = TextBank(*(t[k] for k in _FIELDS), meta)
        bank.require_finite(path)
        return bank

    def only_classes(self, keep: list[int] | np.ndarray) -> "TextBank":
        """The texts of the classes ``keep`` alone, class ``keep[i]`` becoming class i;
        a segment stays when a kept class owns it. What a model trained on these classes
        sees: nothing of another class's texts is left in it (zero-shot training)."""
        keep = np.asarray(keep, dtype=np.int64)
        segs = self.segment_members[:, keep].any(1)
        label_only = set(self.meta.get("label_only_synonyms", []))
        return TextBank(self.global_[keep], self.global_members[np.ix_(keep, keep)], self.synonyms[keep],
                        self.synonym_mask[keep], self.synonym_members[keep][:, :, keep], self.segments[segs],
                        self.segment_members[segs][:, keep], self.segment_parts[segs],
                        {**self.meta, "classes": keep.tolist(),
                         "label_only_synonyms": [i for i, c in enumerate(keep.tolist()) if c in label_only]})

    def centred(self, on: "TextBank | None" = None) -> "TextBank":
        """Each kind of text (global, synonym, segment) minus its kind's mean embedding,
        the means taken over ``on``'s texts (default: this bank's). Zero-shot scoring
        centres every class's texts on the seen classes' means, the shift training used.

        Descriptions of signs share most of their wording ("the dominant hand ... is placed
        ... and moves"), so a sentence encoder puts them in a narrow cone: in the demo's
        bank 24 of 40 classes have another class's global text at cos > 0.95. Cosine
        logits over tau then barely separate a positive from its nearest negative.
        Removing the shared direction keeps what differs between texts. The contrastive
        terms only compare texts of one kind, so each kind is centred on its own mean."""
        on = self if on is None else on
        syn = self.synonyms.copy()
        if self.synonym_mask.any() and on.synonym_mask.any():
            syn[self.synonym_mask] -= on.synonyms[on.synonym_mask].mean(0)
        seg = self.segments - on.segments.mean(0) if len(self.segments) and len(on.segments) else self.segments
        return TextBank(self.global_ - on.global_.mean(0), self.global_members, syn, self.synonym_mask,
                        self.synonym_members, seg, self.segment_members, self.segment_parts,
                        {**self.meta, "centred": True})

    def to_torch(self, device) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in self.tensors().items()}
