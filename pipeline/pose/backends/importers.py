"""Importers: keypoints people already have, instead of running a pose model.

- `sam_slr`: SAM-SLR's released skeletons, one (T, 133, 3) npy per video (x, y, score in
  the COCO-WholeBody layout, HRNet-w48). Their frames were mirrored; `mirror_x` maps x back
  (x -> image_width - x) and swaps left and right, so left is the signer's left again.
- `pose_format`: `.pose` files of the pose-format library with MediaPipe Holistic
  components (POSE_LANDMARKS, FACE_LANDMARKS, LEFT/RIGHT_HAND_LANDMARKS), mapped exactly
  like the mediapipe backend's output (pipeline/pose/holistic_map.py).

Each video's file is looked up in `pose.importer.dir` by the video's stem, the video's
file name, then the sample_id (`x.npy`, `x.mp4.npy`, `<sample_id>.npy`). The MediaPipe files
(isolated-sign competition parquet, flat npy vectors) are in `mediapipe_files.py`, OpenPose's
JSON in `openpose.py`.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from ...data.wholebody import mirror_permutation
from ...io import file_digest
from ..holistic_map import PARTS, holistic_frames
from ..video import VideoError


def clip_stems(row: dict) -> list[str]:
    """The names a clip's keypoint file may have, in the order they are looked up."""
    video = Path(str(row.get("video") or ""))
    return [video.stem, video.name, str(row["sample_id"])] if video.name else [str(row["sample_id"])]


def files_digest(files: list[Path]) -> str | None:
    """sha256 over the names and contents of a clip's files (a folder of per-frame files)."""
    h = hashlib.sha256()
    for path in files:
        digest = file_digest(path)
        if digest is None:
            return None
        h.update(f"{path.name}\0{digest}\n".encode())
    return h.hexdigest()


def numbered(files, pattern: str) -> list[Path]:
    """Per-frame files in frame order: the integer ``pattern``'s group ``frame`` reads from each
    name (``0.npy`` .. ``57.npy``; OpenPose's ``clip_000000000057_keypoints.json``); 10 after 9."""
    found = []
    for path in files:
        match = re.fullmatch(pattern, path.name)
        if match:
            found.append((int(match.group("frame")), path))
    return [path for _, path in sorted(found)]


class Importer:
    """One clip's keypoints from a file (or a folder of per-frame files) in ``pose.importer.dir``,
    as (T, 133, 3). A subclass names where a clip's file may be (``candidates``), the files
    there (``list_files``) and how they read (``load``)."""
    suffix = ""
    what = "file"          # what is looked for, in the not-found message

    def __init__(self, cfg: dict):
        if not cfg["dir"]:
            raise ValueError(f"pose.importer.dir: the folder of the {self.what}s is not set")
        self.dir = Path(cfg["dir"])
        if not self.dir.is_dir():
            raise FileNotFoundError(f"{self.dir}: pose.importer.dir is not a folder")
        self.cfg = cfg
        self.meta: dict = {}
        self._listed: dict[Path, list[Path]] = {}

    def candidates(self, stem: str) -> list[Path]:
        return [self.dir / f"{stem}{self.suffix}"]

    def files(self, path: Path) -> list[Path]:
        """``list_files(path)``, listed once per run: a clip's source, digest and load all ask."""
        if path not in self._listed:
            self._listed[path] = self.list_files(path)
        return self._listed[path]

    def list_files(self, path: Path) -> list[Path]:
        return [path] if path.is_file() else []

    def locate(self, row: dict) -> Path | None:
        for stem in clip_stems(row):
            for path in self.candidates(stem):
                if self.files(path):
                    return path
        return None

    def source(self, row: dict) -> str:
        return str(self.locate(row) or self.candidates(clip_stems(row)[0])[0])

    def digest(self, row: dict) -> str | None:
        path = self.locate(row)
        if path is None:
            return None
        files = self.files(path)
        return file_digest(path) if files == [path] else files_digest(files)

    def __call__(self, row: dict, progress=None) -> np.ndarray:
        path = self.locate(row)
        if path is None:
            raise VideoError(f"no {self.what} for it in {self.dir} (file not found)")
        frames = self.load(path)
        if len(frames) == 0:
            raise VideoError("no frames in the file")
        if not (frames[:, :23, 2] > 0).any():
            raise VideoError(f"no person: every body point of its {len(frames)} frames has score 0")
        if progress is not None:
            progress.update(len(frames))
        return frames.astype(np.float32)

    def load(self, path: Path) -> np.ndarray:
        raise NotImplementedError


class SamSlrNpy(Importer):
    name, suffix, what = "sam_slr", ".npy", ".npy file"
    version = "sam_slr npy importer 1"

    def load(self, path: Path) -> np.ndarray:
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise VideoError(f"not a readable npy file: {exc}") from exc
        if arr.ndim != 3 or arr.shape[1:] != (133, 3):
            raise VideoError(f"expected a (T, 133, 3) array, got {arr.shape}")
        arr = np.array(arr, np.float32)
        if self.cfg["mirror_x"]:
            arr = arr[:, mirror_permutation()]
            seen = arr[..., 2] > 0
            arr[..., 0] = np.where(seen, self.cfg["image_width"] - arr[..., 0], 0.0)
        return arr


class PoseFormatFile(Importer):
    name, suffix, what = "pose_format", ".pose", ".pose file"
    NEEDED = ("POSE_LANDMARKS", "FACE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS")  # PARTS' order

    @property
    def version(self) -> str:
        from importlib.metadata import version
        return f"pose_format {version('pose-format')} holistic importer 1"

    def load(self, path: Path) -> np.ndarray:
        from pose_format import Pose

        try:
            pose = Pose.read(path.read_bytes())
        except Exception as exc:  # the reader raises anything from struct to IndexError
            raise VideoError(f"not a readable .pose file: {type(exc).__name__}: {exc}") from exc
        names = [c.name for c in pose.header.components]
        missing = [n for n in self.NEEDED if n not in names]
        if missing:
            raise VideoError(f"not a MediaPipe Holistic .pose file: no {', '.join(missing)} (has {names})")
        offsets = np.cumsum([0] + [len(c.points) for c in pose.header.components])
        span = {n: slice(offsets[i], offsets[i + 1]) for i, n in enumerate(names)}
        w, h = pose.header.dimensions.width, pose.header.dimensions.height
        data = np.ma.getdata(pose.body.data)[:, 0, :, :2].astype(np.float32) / np.array([w, h], np.float32)
        conf = np.asarray(pose.body.confidence)[:, 0].astype(np.float32)
        parts = {}
        for part, component in zip(PARTS, self.NEEDED):
            values = np.concatenate([data[:, span[component]], conf[:, span[component], None]], -1)
            found = (conf[:, span[component]] > 0).any(1)          # a part with no confident point: not found
            parts[part] = np.where(found[:, None, None], values, np.nan)
        return holistic_frames(parts, w, h)
