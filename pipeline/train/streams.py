"""The four input streams, as pure functions of a (..., C, T, V) array of (x, y, score).

joint: the keypoints. bone: child minus parent along the preset's bone tree (the root
keeps its joint). joint_motion / bone_motion: frame t+1 minus frame t, last frame 0.
The score channel of a bone or a motion is the mean of its two endpoints' scores, and
a bone or motion with an undetected endpoint is zero (no phantom vectors to 0, 0).
"""
from __future__ import annotations

import numpy as np

from ..names import STREAMS  # noqa: F401  (re-exported: the streams this module computes)


def bones(x: np.ndarray, parents: tuple[int, ...]) -> np.ndarray:
    par = np.array([p if p >= 0 else k for k, p in enumerate(parents)])
    root = np.array([p < 0 for p in parents])
    child, parent = x, x[..., par]
    out = np.empty_like(x)
    out[..., :2, :, :] = child[..., :2, :, :] - parent[..., :2, :, :]
    out[..., :2, :, root] = child[..., :2, :, root]
    out[..., 2, :, :] = (child[..., 2, :, :] + parent[..., 2, :, :]) / 2
    out[..., 2, :, root] = child[..., 2, :, root]
    missing = (child[..., 2, :, :] <= 0) | (parent[..., 2, :, :] <= 0)
    out[..., :2, :, :] *= ~missing[..., None, :, :]
    out[..., 2, :, :] *= ~missing
    return out


def motion(x: np.ndarray) -> np.ndarray:
    out = np.zeros_like(x)
    out[..., :2, :-1, :] = x[..., :2, 1:, :] - x[..., :2, :-1, :]
    out[..., 2, :-1, :] = (x[..., 2, 1:, :] + x[..., 2, :-1, :]) / 2
    missing = (x[..., 2, 1:, :] <= 0) | (x[..., 2, :-1, :] <= 0)
    out[..., :, :-1, :] *= ~missing[..., None, :, :]
    return out


def to_stream(x: np.ndarray, stream: str, parents: tuple[int, ...]) -> np.ndarray:
    if stream == "joint":
        return x
    if stream == "bone":
        return bones(x, parents)
    if stream == "joint_motion":
        return motion(x)
    if stream == "bone_motion":
        return motion(bones(x, parents))
    raise ValueError(f"unknown stream {stream!r}; known: {', '.join(STREAMS)}")
