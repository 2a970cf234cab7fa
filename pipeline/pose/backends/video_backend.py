"""What every backend that reads video shares: decode, estimate frame by frame, check."""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import numpy as np

from ...io import file_digest
from ..video import MIN_FRAMES, VideoError, check_colour, check_decoded, has_colour, iter_frames, open_video

Estimator = Callable[[np.ndarray], np.ndarray]    # RGB frame -> (133, 3)


class VideoBackend:
    name = ""
    version = ""

    def __init__(self, min_decoded_fraction: float, min_frames: int = MIN_FRAMES):
        self.min_decoded_fraction = min_decoded_fraction
        self.min_frames = min_frames
        self.meta: dict = {}

    def source(self, row: dict) -> str:
        return row["video"]

    def digest(self, row: dict) -> str | None:
        return file_digest(row["video"])

    @contextlib.contextmanager
    def video_session(self) -> Iterator[Estimator]:
        """The per-frame estimator for one video (a tracking backend starts fresh here)."""
        yield self.estimate

    def estimate(self, rgb: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, row: dict, progress=None) -> np.ndarray:
        cap, info = open_video(row["video"])
        frames, saw_colour = [], False
        with self.video_session() as estimate:
            for rgb in iter_frames(cap):
                saw_colour = saw_colour or has_colour(rgb)    # checked until the first colour frame
                frames.append(estimate(rgb))
                if progress is not None:
                    progress.update(1)
        check_decoded(len(frames), info, self.min_decoded_fraction, self.min_frames)
        check_colour(saw_colour, len(frames))
        out = np.stack(frames)
        if not (out[:, :17, 2] > 0).any():
            raise VideoError(f"no person detected in any of its {len(frames)} frames")
        return out
