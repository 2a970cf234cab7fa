"""Batches of one stream: temporal crop-resize of the valid frames to a fixed window
(CTR-GCN's ``valid_crop_resize``), then the stream transform."""
from __future__ import annotations

import numpy as np

from .streams import to_stream


def crop_bounds(length: int, rng: np.random.Generator | None, crop_min: float, test_crop: float,
                min_frames: int = 1) -> tuple[int, int]:
    """Training (rng given): a random crop of a random fraction in [crop_min, 1] of the
    frames, and ``min_frames`` at least (all of a shorter clip), as CTR-GCN's
    ``valid_crop_resize`` keeps 64. Evaluation: the centred ``test_crop`` fraction."""
    if rng is None:
        bias = int((1 - test_crop) * length / 2)
        return bias, max(bias + 1, length - bias)
    keep = int(np.floor(length * rng.uniform(crop_min, 1.0)))
    keep = min(max(keep, min_frames, 1), length)
    start = int(rng.integers(0, length - keep + 1))
    return start, start + keep


def resize_time(x: np.ndarray, window: int) -> np.ndarray:
    """Linear resampling of (T, V, 3) (x, y, score) frames along time to ``window`` frames
    (half-pixel centres, as ``F.interpolate(..., align_corners=False)``).

    Only detected points (score > 0) are blended: next to an undetected frame a point takes
    its detected neighbour's value, and it stays (0, 0, 0) when both are undetected. Blending
    with the (0, 0, 0) of a missing point would put the point part-way to the origin with a
    positive score, a phantom jump that the bone and motion streams turn into spikes."""
    length = x.shape[0]
    if length == window:
        return x
    src = np.clip((np.arange(window) + 0.5) * length / window - 0.5, 0, length - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, length - 1)
    w = (src - lo).reshape(-1, *([1] * (x.ndim - 2)))
    seen = x[..., 2] > 0
    w_lo, w_hi = (1 - w) * seen[lo], w * seen[hi]
    total = w_lo + w_hi
    out = (x[lo] * w_lo[..., None] + x[hi] * w_hi[..., None]) / np.where(total > 0, total, 1.0)[..., None]
    return out.astype(x.dtype)


class Feeder:
    """The clips of one split, ``clips[i]`` (T_i, V, 3): a list in memory, or a ClipFile that
    reads each from a scratch file when a batch needs it (train/clips.py)."""

    def __init__(self, clips: list[np.ndarray], labels: np.ndarray, sample_ids: list[str],
                 stream: str, parents: tuple[int, ...], window: int, crop_min: float, test_crop: float,
                 crop_min_frames: int = 1):
        if not clips:
            raise ValueError("empty split: no clips to feed")
        self.clips, self.labels, self.sample_ids = clips, np.asarray(labels, dtype=np.int64), sample_ids
        self.stream, self.parents = stream, parents
        self.window, self.crop_min, self.test_crop, self.crop_min_frames = window, crop_min, test_crop, crop_min_frames

    @classmethod
    def of_split(cls, split, stream: str, parents: tuple[int, ...], cfg: dict) -> "Feeder":
        """A split's clips (train/data.SplitData) fed with the ``train`` section's crop settings."""
        return cls(split.clips, split.labels, split.sample_ids, stream, parents, cfg["window"], cfg["crop_min"],
                   cfg["test_crop"], cfg["crop_min_frames"])

    def __len__(self) -> int:
        return len(self.clips)

    def batch(self, indices: np.ndarray, rng: np.random.Generator | None) -> tuple[np.ndarray, np.ndarray]:
        """(B, 3, window, V) float32 stream data and (B,) labels."""
        frames = []
        for i in indices:
            clip = self.clips[i]
            start, stop = crop_bounds(len(clip), rng, self.crop_min, self.test_crop, self.crop_min_frames)
            frames.append(resize_time(clip[start:stop], self.window))
        # (B, C, T, V), made contiguous before the stream transform: its gathers and masks run
        # 2-4x faster on a contiguous array than on the transposed view (the same values)
        x = np.ascontiguousarray(np.stack(frames).transpose(0, 3, 1, 2))
        return np.ascontiguousarray(to_stream(x, self.stream, self.parents), dtype=np.float32), self.labels[indices]

    def batches(self, batch_size: int, rng: np.random.Generator | None, drop_last: bool = False):
        order = rng.permutation(len(self)) if rng is not None else np.arange(len(self))
        stop = len(order) - (len(order) % batch_size if drop_last and len(order) >= batch_size else 0)
        for start in range(0, stop, batch_size):
            idx = order[start:start + batch_size]
            yield idx, *self.batch(idx, rng)
