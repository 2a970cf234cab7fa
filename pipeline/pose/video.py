"""Decoding a video into RGB frames, with the failure reasons the quarantine records."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np


class VideoError(Exception):
    """A video the pose stage cannot use; the message is the quarantine reason."""


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: float
    declared_frames: int


def open_video(path: str | Path):
    import cv2

    path = Path(path)
    if not path.is_file():
        raise VideoError("file not found" if not path.exists() else "not a regular file")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise VideoError("cannot be opened as a video (not a video, or its index is missing: truncated?)")
    info = VideoInfo(int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                     float(cap.get(cv2.CAP_PROP_FPS) or 0.0), int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
    return cap, info


def iter_frames(cap) -> Iterator[np.ndarray]:
    """RGB uint8 frames until the decoder stops."""
    import cv2

    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def check_decoded(decoded: int, info: VideoInfo, min_fraction: float) -> None:
    """A zero-frame video, or one that stops well before the frame count its header
    declares (a truncated download), is unusable."""
    if decoded == 0:
        raise VideoError("no frames could be decoded")
    if info.declared_frames > 0 and decoded < min_fraction * info.declared_frames:
        raise VideoError(f"truncated: decoded {decoded} of the {info.declared_frames} frames its header declares")
