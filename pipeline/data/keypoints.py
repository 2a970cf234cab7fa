"""Keypoint selection and normalisation: pure functions on (T, V, 3) arrays of
(x, y, score), kept apart from I/O so that training, predict and the tests prepare a clip
exactly as the keypoints stage (data/stages.py) does."""
from __future__ import annotations

import logging

import numpy as np

from .wholebody import LEFT_HAND, NUM_WHOLEBODY, RIGHT_HAND, Preset, mirror_permutation

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


LEFT_WRIST, RIGHT_WRIST = 9, 10


def wrist_travel(frames: np.ndarray, wrist: int, hand_root: int, min_score: float) -> float:
    """Path length of one wrist over the frames where it is seen (the hand model's root
    where the body wrist is missing), per seen step."""
    pts = np.where((frames[:, wrist, 2] >= min_score)[:, None], frames[:, wrist, :2], frames[:, hand_root, :2])
    seen = (frames[:, wrist, 2] >= min_score) | (frames[:, hand_root, 2] >= min_score)
    steps = seen[1:] & seen[:-1]
    if not steps.any():
        return 0.0
    return float(np.linalg.norm(np.diff(pts, axis=0), axis=-1)[steps].mean())


LEAD_RATIO = 1.25   # how much further the left wrist must travel to count as leading


def is_left_dominant(frames: np.ndarray, min_score: float) -> bool:
    """Whether the signer's left hand leads the clip: it travels clearly further than the
    right. One-handed signs rest the other hand and two-handed ones with a base hold it
    still, so the moving hand is the dominant one. Both hands of a symmetric sign travel
    alike; without the margin such clips would be mirrored or not by the noise."""
    left = wrist_travel(frames, LEFT_WRIST, LEFT_HAND[0], min_score)
    right = wrist_travel(frames, RIGHT_WRIST, RIGHT_HAND[0], min_score)
    return left > LEAD_RATIO * right


def mirror(frames: np.ndarray) -> np.ndarray:
    """A normalised (T, 133, 3) clip seen in a mirror: x -> -x about the mid-shoulder origin,
    and every left point swaps with its right counterpart (undetected points stay 0)."""
    out = frames[:, mirror_permutation()].copy()
    out[..., 0] *= -1.0
    out[..., 0][out[..., 2] == 0] = 0.0
    return out


def prepare_clip(frames: np.ndarray, settings: dict, preset: Preset) -> tuple[np.ndarray, bool]:
    """One (T, 133, 3) clip -> the preset's (T, V, 3) points as the keypoints stage writes
    them, and whether it was mirrored. ``settings``: ``normalise``, ``min_score`` and
    ``mirror_left_handed`` (params.keypoints; a run's bundle records the same keys, so
    inference prepares a clip exactly as its training data was prepared)."""
    mirrored = False
    if settings["normalise"]:
        frames = normalise(frames, settings["min_score"])
    if settings["mirror_left_handed"] and is_left_dominant(frames, settings["min_score"]):
        frames, mirrored = mirror(frames), True
    return select_keypoints(frames, preset), mirrored
