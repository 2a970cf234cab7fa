"""What `predict` accepts, read into clips the run's models can score.

- videos: through the run's own pose backend (a run trained on the synthetic demo or on
  imported keypoints reads videos with MediaPipe Holistic, which the demo's detections
  are calibrated on, with the settings its bundle records; the output says so);
- keypoint files: SAM-SLR ``.npy`` (T, 133, 3), MediaPipe flat vectors ``.npy`` (T, D) (the
  run's ``pose.importer.vector_layout``), pose-format ``.pose`` (MediaPipe Holistic), the
  isolated-sign competition's landmark ``.parquet`` (told from a shard by its columns; x, y
  scaled by the run's ``pose.importer.image_width/height``), and our parquet shards: a pose
  shard (133 points) or a keypoint shard of the run's own preset and preparation (any other
  preset is refused: its points are not the model's).

Whole-body frames are prepared exactly as the keypoints stage prepared the training data
(normalisation, min score, left-hand mirroring, the preset's points: the bundle's record).
A file that cannot be read is reported with its reason and skipped, as the pose stage
quarantines a video.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from ..data.keypoints import prepare_clip
from ..data.shards import POSE_LAYOUT, read_shard
from ..data.wholebody import NUM_WHOLEBODY, Preset
from ..pose.backends.importers import PoseFormatFile, SamSlrNpy
from ..pose.backends.mediapipe_files import CompetitionParquet, FlatVectors
from ..pose.backends.registry import READS_VIDEO, make_backend
from ..pose.video import VideoError
from ..train.bundle import keypoint_spec

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
KEYPOINT_SUFFIXES = (".npy", ".pose")
SHARD_SUFFIX = ".parquet"
KNOWN_SUFFIXES = VIDEO_SUFFIXES + KEYPOINT_SUFFIXES + (SHARD_SUFFIX,)


def keypoint_importer(path: Path) -> str | None:
    """The importer that reads this keypoint file, told by its suffix and shape: a (T, 133, 3)
    npy is SAM-SLR's, a 2-D one flat MediaPipe vectors; a parquet with the competition's
    landmark columns is one; None for our own shards (and files that are neither)."""
    suffix = path.suffix.lower()
    if suffix == PoseFormatFile.suffix:
        return PoseFormatFile.name
    if suffix == ".npy":
        try:
            shape = np.load(path, mmap_mode="r", allow_pickle=False).shape
        except (ValueError, OSError) as exc:
            raise VideoError(f"not a readable npy file: {exc}") from exc
        return FlatVectors.name if len(shape) == 2 else SamSlrNpy.name
    if suffix == SHARD_SUFFIX:
        import pyarrow.parquet as pq
        try:
            names = set(pq.read_schema(path).names)
        except Exception:  # noqa: BLE001 - unreadable: the shard reader says why
            return None
        # the competition's landmark parquet, not one of our shards
        return CompetitionParquet.name if set(CompetitionParquet.COLUMNS) <= names else None
    return None


@dataclass
class Clip:
    name: str                   # the file (and, in a shard, the sample)
    points: np.ndarray | None   # (T, V, 3) prepared for the run, None when the input failed
    reason: str = ""            # why it failed
    mirrored: bool = False


def expand_inputs(paths: list[str | Path]) -> list[Path]:
    """Files as given (whatever their suffix: a bad one is reported, not dropped); folders
    contribute their files with a known suffix, recursively, in sorted order."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in KNOWN_SUFFIXES)
            if not found:
                log.warning("%s: no video or keypoint file in it (%s)", p, ", ".join(KNOWN_SUFFIXES))
            out += found
        else:
            out.append(p)
    return out


def video_pose_settings(pose: dict) -> dict:
    """The pose params to read a video with: the run's backend when it reads videos,
    else MediaPipe (the demo's synthetic detections are calibrated on it)."""
    backend = pose["backend"] if pose["backend"] in READS_VIDEO else "mediapipe"
    return {**pose, "backend": backend}


def keypoints_mismatch(theirs: dict, ours: dict) -> str | None:
    """Why keypoints prepared as ``theirs`` (a keypoint_spec) cannot feed a run trained on
    ``ours``; None when they can."""
    if theirs == ours:
        return None
    differ = [k for k in ours if theirs.get(k) != ours[k]]
    return (f"keypoints of preset {theirs['preset']!r} ({len(theirs['indices'])} points) differ from the run's, "
            f"preset {ours['preset']!r} ({len(ours['indices'])} points), in {', '.join(differ)}")


def bundle_preset(bundle: dict) -> Preset:
    """The keypoint preset a run was trained on, as its bundle records it (not as the
    package defines that name today)."""
    kp = bundle["keypoints"]
    return Preset(kp["preset"], tuple(kp["indices"]), tuple(kp["parents"]),
                  {k: tuple(v) for k, v in kp["parts"].items()})


class ClipReader:
    """Reads inputs into clips for one run (its bundle's keypoints and pose records)."""

    def __init__(self, bundle: dict):
        self.spec = bundle["keypoints"]
        self.preset = bundle_preset(bundle)
        self.pose = bundle["pose"]
        self._video_backend = None

    def prepare(self, frames: np.ndarray) -> tuple[np.ndarray, bool]:
        return prepare_clip(frames, self.spec, self.preset)

    def read(self, path: Path) -> Iterator[Clip]:
        suffix = path.suffix.lower()
        try:
            if not path.is_file():
                raise VideoError("file not found" if not path.exists() else "not a regular file")
            importer = keypoint_importer(path)
            if suffix == SHARD_SUFFIX and importer is None:
                yield from self._read_shard(path)
                return
            frames = self._wholebody(path, importer)
        except (VideoError, ValueError) as exc:
            yield Clip(str(path), None, str(exc))
            return
        points, mirrored = self.prepare(frames)
        yield Clip(str(path), points, mirrored=mirrored)

    def _wholebody(self, path: Path, importer: str | None) -> np.ndarray:
        row = {"sample_id": path.stem, "video": str(path)}
        if importer is not None:
            settings = {**self.pose["importer"], "dir": str(path.parent)}
            try:
                backend = make_backend({**self.pose, "backend": importer, "importer": settings})
            except KeyError as exc:
                raise VideoError(f"a {importer} file needs pose.importer.{exc.args[0]}, which this run's bundle "
                                 f"does not record (made before that importer existed)") from exc
            return backend(row)
        if self._video_backend is None:
            settings = video_pose_settings(self.pose)
            if settings["backend"] != self.pose["backend"]:
                log.info("the run's keypoints came from pose backend %r, which reads no video: videos are read "
                         "with %s", self.pose["backend"], settings["backend"])
            self._video_backend = make_backend(settings)
        return self._video_backend(row)

    def _read_shard(self, path: Path) -> Iterator[Clip]:
        samples, meta = read_shard(path)
        if meta.get("layout") == POSE_LAYOUT:
            for sid, frames in samples.items():
                points, mirrored = self.prepare(frames)
                yield Clip(f"{path}:{sid}", points, mirrored=mirrored)
            return
        problem = keypoints_mismatch(keypoint_spec(meta, str(path)), self.spec)
        if problem:
            raise ValueError(f"{problem}: give the run pose shards ({NUM_WHOLEBODY} points) or keypoints made "
                             f"with its preset")
        for sid, points in samples.items():
            yield Clip(f"{path}:{sid}", points)
