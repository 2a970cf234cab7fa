"""Keypoint selection and normalisation: pure functions on (T, V, 3) arrays of
(x, y, score), plus the keypoints stage that applies them to every pose shard."""
from __future__ import annotations

import logging

import numpy as np

from .wholebody import NUM_WHOLEBODY, Preset

log = logging.getLogger(__name__)

LEFT_SHOULDER, RIGHT_SHOULDER = 5, 6


def mask_undetected(frames: np.ndarray, min_score: float) -> np.ndarray:
    """Points scoring below ``min_score`` become (0, 0, 0): one encoding of 'missing'
    whatever the backend wrote for them."""
    out = frames.copy()
    out[out[..., 2] < min_score] = 0.0
    return out


def shoulder_frame(frames: np.ndarray, min_score: float) -> tuple[np.ndarray, float] | None:
    """Centre (mid-shoulder) and scale (shoulder width) of a clip in the 133 layout,
    averaged over the frames where both shoulders are detected; None if there are none."""
    ls, rs = frames[:, LEFT_SHOULDER], frames[:, RIGHT_SHOULDER]
    ok = (ls[:, 2] >= min_score) & (rs[:, 2] >= min_score)
    if not ok.any():
        return None
    centre = ((ls[ok, :2] + rs[ok, :2]) / 2).mean(0)
    width = float(np.linalg.norm(ls[ok, :2] - rs[ok, :2], axis=-1).mean())
    if width <= 1e-6:
        return None
    return centre, width


def normalise(frames: np.ndarray, min_score: float) -> np.ndarray:
    """Translate the clip so the mid-shoulder is the origin and scale it to unit
    shoulder width; scores are kept and undetected points stay (0, 0, 0). Clips
    without any shoulder pair fall back to the centroid and spread of the detected
    points (logged)."""
    if frames.ndim != 3 or frames.shape[1] != NUM_WHOLEBODY or frames.shape[2] != 3:
        raise ValueError(f"expected (T, {NUM_WHOLEBODY}, 3) frames, got {frames.shape}")
    frames = mask_undetected(frames, min_score)
    detected = frames[..., 2] > 0
    ref = shoulder_frame(frames, min_score)
    if ref is None:
        if not detected.any():
            return frames
        pts = frames[detected][:, :2]
        centre, width = pts.mean(0), float(pts.std(0).mean() * 2 + 1e-6)
        log.warning("clip without detected shoulders: normalised by its point cloud")
    else:
        centre, width = ref
    out = frames.copy()
    out[..., :2] = (frames[..., :2] - centre) / width
    out[~detected] = 0.0
    return out.astype(np.float32)


def select_keypoints(frames: np.ndarray, preset: Preset) -> np.ndarray:
    """(T, 133, C) -> (T, V, C) with the preset's points in its channel order."""
    if frames.shape[1] != NUM_WHOLEBODY:
        raise ValueError(f"expected the {NUM_WHOLEBODY}-point whole-body layout, got {frames.shape[1]} points")
    return frames[:, list(preset.indices)]
