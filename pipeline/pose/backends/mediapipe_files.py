"""Importers for MediaPipe Holistic landmarks people already saved, mapped onto the 133 layout
exactly like the mediapipe backend's own output (pipeline/pose/holistic_map.py).

- `mediapipe_parquet`: the isolated-sign competition's files (Google, 250 signs, 21 signers):
  one parquet per clip, one row per landmark and frame, columns ``frame, type,
  landmark_index, x, y, z`` (``row_id`` too), ``type`` one of face (468), left_hand (21),
  pose (33), right_hand (21); a part not found in a frame is written as NaN rows. The format
  keeps no visibility: a body point that is there gets score 1 (the backend gives
  MediaPipe's visibility).
- `mediapipe_npy`: flat vectors, one per frame, as the most copied sign-recognition tutorial
  writes them (``np.concatenate([pose.flatten(), face.flatten(), lh.flatten(), rh.flatten()])``,
  zeros for a part not found): either one ``(T, D)`` npy per clip or a folder per clip with
  one ``(D,)`` npy per frame named by its number (``0.npy``, ``1.npy``, ...). The order and
  fields of the parts are declared by ``pose.importer.vector_layout``: 1662 values =
  ``[pose:xyzv, face:xyz, left_hand:xyz, right_hand:xyz]``, the tutorial's; 258 = the same
  without the face. A part whose values are all 0 was not found. Body scores are the ``v``
  (visibility) field, or 1 without one.

Both hold x, y normalised to the frame: ``pose.importer.image_width`` and ``image_height`` give
the frame size the pixels are computed with (only the aspect ratio matters downstream, where
each clip is centred and scaled). ``left_hand`` is MediaPipe's left hand, the signer's left, in
both, as in the backend.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..holistic_map import PARTS, holistic_frames
from ..video import VideoError
from .importers import Importer, numbered

# the layouts the tutorial's variants write, by vector length: named in the error for another length
KNOWN_LAYOUTS = {
    1662: ["pose:xyzv", "face:xyz", "left_hand:xyz", "right_hand:xyz"],
    258: ["pose:xyzv", "left_hand:xyz", "right_hand:xyz"],
    1629: ["pose:xyz", "face:xyz", "left_hand:xyz", "right_hand:xyz"],
    225: ["pose:xyz", "left_hand:xyz", "right_hand:xyz"],
}


class CompetitionParquet(Importer):
    name, suffix, what = "mediapipe_parquet", ".parquet", ".parquet file"
    version = "mediapipe parquet importer 1"
    COLUMNS = ("frame", "type", "landmark_index", "x", "y")

    def load(self, path: Path) -> np.ndarray:
        import pandas as pd
        import pyarrow

        try:
            table = pd.read_parquet(path, columns=list(self.COLUMNS))
        except (pyarrow.ArrowException, OSError, ValueError, KeyError) as exc:
            raise VideoError(f"not a landmark parquet with columns {', '.join(self.COLUMNS)}: "
                             f"{type(exc).__name__}: {exc}") from exc
        unknown = sorted(set(table["type"].astype(str)) - set(PARTS))
        if unknown:
            raise VideoError(f"landmark type {unknown[0]!r} is not one of {', '.join(PARTS)}")
        frames = np.unique(table["frame"].to_numpy())
        at = np.searchsorted(frames, table["frame"].to_numpy())          # row -> position of its frame
        types, landmark = table["type"].astype(str).to_numpy(), table["landmark_index"].to_numpy()
        xy = table[["x", "y"]].to_numpy(np.float32)
        parts = {}
        for part, n in PARTS.items():
            mine = types == part
            index = landmark[mine]
            bad = index[(index < 0) | (index >= n)]
            if len(bad):
                raise VideoError(f"{part} landmark_index {int(bad[0])} is outside 0-{n - 1}")
            values = np.full((len(frames), n, 3), np.nan, np.float32)
            values[at[mine], index, :2] = xy[mine]
            values[..., 2] = np.where(np.isfinite(values[..., :2]).all(-1), 1.0, np.nan)
            parts[part] = values
        return holistic_frames(parts, self.cfg["image_width"], self.cfg["image_height"])


class FlatVectors(Importer):
    name, suffix, what = "mediapipe_npy", ".npy", ".npy file or folder of per-frame .npy"
    version = "mediapipe flat-vector importer 1"

    def __init__(self, cfg: dict):
        super().__init__(cfg)
        self.layout = [tuple(item.split(":")) for item in cfg["vector_layout"]]
        named = [part for part, _ in self.layout]
        if len(set(named)) != len(named):
            raise ValueError(f"pose.importer.vector_layout {cfg['vector_layout']}: a part is named twice")
        self.size = sum(PARTS[part] * len(fields) for part, fields in self.layout)

    def candidates(self, stem: str) -> list[Path]:
        return [self.dir / f"{stem}.npy", self.dir / stem]

    def list_files(self, path: Path) -> list[Path]:
        if path.is_dir():
            return numbered(path.iterdir(), r"(?P<frame>\d+)\.npy")
        return super().list_files(path)

    def load(self, path: Path) -> np.ndarray:
        if path.is_dir():
            vectors = np.stack([self._read(f, 1) for f in self.files(path)])
        else:
            vectors = self._read(path, 2)
        return self.split(vectors)

    def _read(self, path: Path, ndim: int) -> np.ndarray:
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise VideoError(f"{path.name}: not a readable npy file: {exc}") from exc
        if arr.ndim != ndim or arr.shape[-1] != self.size:
            known = KNOWN_LAYOUTS.get(arr.shape[-1]) if arr.ndim == ndim else None
            hint = f"; {arr.shape[-1]} is [{', '.join(known)}]" if known else ""
            shape = "(T, D)" if ndim == 2 else "(D,)"
            raise VideoError(f"{path.name}: expected a {shape} array with D = {self.size} "
                             f"(pose.importer.vector_layout), got {arr.shape}{hint}")
        return arr.astype(np.float32)

    def split(self, vectors: np.ndarray) -> np.ndarray:
        """(T, D) -> the parts, an all-zero part (not found) as NaN -> (T, 133, 3)."""
        parts, start = {}, 0
        for part, fields in self.layout:
            n = PARTS[part]
            values = vectors[:, start:start + n * len(fields)].reshape(len(vectors), n, len(fields))
            start += n * len(fields)
            xy = values[..., [fields.index("x"), fields.index("y")]]
            score = values[..., fields.index("v")] if "v" in fields else np.ones(xy.shape[:2], np.float32)
            found = (values != 0).any(axis=(1, 2))
            parts[part] = np.where(found[:, None, None], np.concatenate([xy, score[..., None]], -1), np.nan)
        return holistic_frames(parts, self.cfg["image_width"], self.cfg["image_height"])
