"""Decoding a video into RGB frames, with the failure reasons the quarantine records."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

# in every shard's fingerprint: bump it when a check below changes, so that shards decided
# under the old checks are recomputed
STREAM_CHECKS = "frames, truncation, min_frames, colour: 1"
MIN_FRAMES = 8              # pose.min_frames' default, for a backend made without the params
# A grey or depth stream decodes to three equal channels, give or take the few levels a
# lossy codec's chroma adds (<= 6 measured on noise); a colour video of a person has skin.
COLOUR_SPREAD = 16          # channel max - min above which a pixel has colour
COLOUR_SHARE = 0.001        # share of a frame's sampled pixels with colour that makes it a colour frame
COLOUR_STEP = 4             # every 4th row and column: enough to find skin, 1/16 of the work


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
            # a frame left in its own format (grey, 16-bit depth) would crash cvtColor and the stage
            if frame.ndim != 3 or frame.shape[2] != 3:
                raise VideoError(f"not a colour video: decoded frames are {frame.dtype} {frame.shape}")
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def has_colour(rgb: np.ndarray) -> bool:
    """Whether a frame shows colour (see COLOUR_SPREAD), on a subsample: cheap next to a pose model."""
    sample = rgb[::COLOUR_STEP, ::COLOUR_STEP].astype(np.int16)
    spread = sample.max(axis=2) - sample.min(axis=2)
    return bool(np.mean(spread > COLOUR_SPREAD) >= COLOUR_SHARE)


def check_decoded(decoded: int, info: VideoInfo, min_fraction: float, min_frames: int = MIN_FRAMES) -> None:
    """A zero-frame video, one that stops well before the frame count its header
    declares (a truncated download), a still image (one frame, whatever its name says) and
    a clip shorter than any sign are unusable."""
    if decoded == 0:
        raise VideoError("no frames could be decoded")
    if info.declared_frames > 0 and decoded < min_fraction * info.declared_frames:
        raise VideoError(f"truncated: decoded {decoded} of the {info.declared_frames} frames its header declares")
    if decoded < min_frames:
        what = "a single frame (a still image, not a video)" if decoded == 1 else f"only {decoded} frames"
        raise VideoError(f"too short: {what}; pose.min_frames is {min_frames}")


def check_colour(saw_colour: bool, decoded: int) -> None:
    """A greyscale or depth stream (three equal channels in every frame) is not the colour
    video of a person the pose models were trained on; checked before the person, as it
    is the cause when both fail."""
    if not saw_colour:
        raise VideoError(f"not a colour video: the three channels are equal in all {decoded} frames "
                         f"(a greyscale or depth stream, or blank frames)")
