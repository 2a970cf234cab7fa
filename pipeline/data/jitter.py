"""Detector jitter of a whole-body track, measured so that the real detector and the
synthetic corpus can be compared on one scale.

Frame-to-frame noise is mixed with real motion in any track. Distances between points
on one rigid body part (shoulder to shoulder, eye corner to eye corner, across the palm)
change slowly and smoothly, so the second difference of such a distance,
``d[t] - (d[t-1] + d[t+1]) / 2``, is mostly the detector's noise. Its median absolute
value per part, in shoulder widths, is the jitter. The hands still rotate in depth while
signing, so their figure is an upper bound.
"""
from __future__ import annotations

import numpy as np

from .wholebody import FACE_START, LEFT_HAND, RIGHT_HAND

_F = FACE_START
RIGID_PAIRS: dict[str, list[tuple[int, int]]] = {
    # shoulders, eyes, nose to shoulders, ears
    "body": [(5, 6), (1, 2), (0, 5), (0, 6), (3, 4)],
    # outer eye corners, inner eye corners, nose tip to eye corners, jaw ends, bridge to tip
    "face": [(_F + 36, _F + 45), (_F + 39, _F + 42), (_F + 30, _F + 36), (_F + 30, _F + 45), (_F + 0, _F + 16),
             (_F + 27, _F + 30)],
    # wrist to knuckles, across the knuckles (hand-local indices)
    "hand": [(0, 5), (0, 17), (5, 17), (5, 9), (9, 13), (13, 17), (0, 9), (0, 13)],
}


def _second_differences(clip: np.ndarray, a: int, b: int, min_score: float) -> np.ndarray:
    ok = (clip[:, a, 2] > min_score) & (clip[:, b, 2] > min_score)
    d = np.linalg.norm(clip[:, a, :2] - clip[:, b, :2], axis=1)
    valid = ok[1:-1] & ok[:-2] & ok[2:]
    return (d[1:-1] - 0.5 * (d[:-2] + d[2:]))[valid]


def rigid_jitter(clips: list[np.ndarray], min_score: float = 0.05) -> dict[str, float]:
    """Median |second difference| of rigid distances per part, in shoulder widths, over
    (T, 133, 3) whole-body clips; both hands count (where detected)."""
    found: dict[str, list[np.ndarray]] = {part: [] for part in RIGID_PAIRS}
    for clip in clips:
        width = np.linalg.norm(clip[:, 5, :2] - clip[:, 6, :2], axis=1)
        width = float(np.median(width[(clip[:, 5, 2] > min_score) & (clip[:, 6, 2] > min_score)]))
        for part, pairs in RIGID_PAIRS.items():
            offsets = (LEFT_HAND[0], RIGHT_HAND[0]) if part == "hand" else (0,)
            for off in offsets:
                for a, b in pairs:
                    found[part].append(_second_differences(clip, a + off, b + off, min_score) / width)
    out = {}
    for part, values in found.items():
        values = np.concatenate(values) if values else np.zeros(0)
        out[part] = float(np.median(np.abs(values))) if len(values) else float("nan")
    return out
