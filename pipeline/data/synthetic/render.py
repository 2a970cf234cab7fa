"""Render one clip of a sign by one signer into COCO-WholeBody-133 (x, y, score) frames.

The clip is: rest, transition in, the movement (repeated, time-warped per signer and
clip), a hold, transition out, rest. Then a per-clip camera projects it to pixels and
a detector model adds correlated noise, confidence drops and missing-hand segments.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .body import (
    Signer,
    body17,
    body_anchors,
    face68,
    hand_frame,
    hand_local,
    location_point,
    place_hand,
    rest_wrist,
    two_bone_ik,
)
from .phonology import HANDSHAPES, SignSpec

_PER_REP_SECONDS = {"tap": 0.30, "circle": 0.60, "arc": 0.60, "push": 0.50, "down": 0.50,
                    "side": 0.50, "zigzag": 0.70, "wiggle": 0.50, "twist": 0.45}


def _ease(x: np.ndarray) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


def movement_path(movement: str, p: np.ndarray, reps: int, amp: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offset of the dominant (right) hand from its location (T, 3), wrist twist (T,)
    and finger wiggle in degrees (T, 4), for progress ``p`` in [0, reps]."""
    T = p.shape[0]
    off = np.zeros((T, 3))
    twist = np.zeros(T)
    wiggle = np.zeros((T, 4))
    r = np.minimum(np.floor(p), reps - 1)
    frac = p - r
    # directional movements go out on even repetitions and back on odd ones
    e = np.where(r % 2 == 0, _ease(frac), 1.0 - _ease(frac))
    if movement == "tap":
        off[:, 2] = 0.45 * amp * (0.5 - 0.5 * np.cos(2 * np.pi * frac))
    elif movement == "circle":
        off[:, 0] = 0.7 * amp * (np.cos(2 * np.pi * frac) - 1.0)
        off[:, 1] = 0.7 * amp * np.sin(2 * np.pi * frac)
    elif movement == "arc":
        off[:, 1] = 0.8 * amp * np.sin(np.pi * e)
        off[:, 2] = 1.5 * amp * e
    elif movement == "push":
        off[:, 2] = 1.6 * amp * e
    elif movement == "down":
        off[:, 1] = -1.6 * amp * e
    elif movement == "side":
        off[:, 0] = -1.6 * amp * e
    elif movement == "zigzag":
        off[:, 0] = 0.6 * amp * np.sin(4 * np.pi * p)
        off[:, 1] = -1.6 * amp * p / reps
    elif movement == "wiggle":
        for f in range(4):
            wiggle[:, f] = 35.0 * np.sin(2 * np.pi * (2 * p + 0.25 * f))
    elif movement == "twist":
        twist = 0.8 * np.sin(2 * np.pi * frac)
    else:
        raise ValueError(f"unknown movement {movement!r}")
    return off, twist, wiggle


def clip_timeline(spec: SignSpec, s: Signer, rng: np.random.Generator, fps: float):
    jitter = lambda: rng.uniform(0.9, 1.1)  # noqa: E731
    t = s.tempo
    d_rest0 = rng.uniform(0.1, 0.35) * t
    d_in = 0.35 * t * jitter()
    d_move = spec.repetitions * _PER_REP_SECONDS[spec.movement] * t * jitter()
    d_hold = rng.uniform(0.05, 0.2) * t
    d_out = 0.35 * t * jitter()
    d_rest1 = rng.uniform(0.1, 0.3) * t
    bounds = np.cumsum([0, d_rest0, d_in, d_move, d_hold, d_out, d_rest1])
    n = max(8, int(round(bounds[-1] * fps)))
    time = np.arange(n) / fps
    # blend weight of the signing pose against rest, and movement progress in [0, reps]
    w = np.where(time < bounds[1], 0.0,
                 np.where(time < bounds[2], _ease((time - bounds[1]) / d_in),
                          np.where(time < bounds[4], 1.0, 1.0 - _ease((time - bounds[4]) / d_out))))
    x = np.clip((time - bounds[2]) / d_move, 0.0, 1.0)
    a = rng.uniform(-0.6, 0.6)                # per-clip monotone time warp
    x = x + a * np.sin(2 * np.pi * x) / (2 * np.pi)
    return n, w, x * spec.repetitions


def pose_3d(spec: SignSpec, s: Signer, rng: np.random.Generator, fps: float) -> np.ndarray:
    """(T, 133, 3) body-frame positions of every whole-body point for one clip."""
    n, w, p = clip_timeline(spec, s, rng, fps)
    right = s.right_handed
    amp = 0.09 * s.amplitude * rng.uniform(0.85, 1.15)
    anchors = body_anchors(s)
    head = anchors["head"] + rng.normal(0, 0.004, size=(n, 3)).cumsum(0) * 0.3
    hand_len = s.hand
    shape = HANDSHAPES[spec.handshape]
    mirror = np.array([-1.0, 1.0, 1.0])

    def arm(side_right: bool, target_tip: np.ndarray, orientation: str, twist: np.ndarray,
            hshape, wiggle=None):
        axes = hand_frame(orientation, side_right, twist)
        u, n_ax = axes[:, 0], axes[:, 2]
        wrist_sign = target_tip - 0.8 * hand_len * u - 0.02 * n_ax
        rest = rest_wrist(s, side_right)
        wrist = rest + w[:, None] * (wrist_sign - rest)
        shoulder = anchors["sh_r"] if side_right else anchors["sh_l"]
        pole = np.array([-0.4 if side_right else 0.4, -1.0, -0.3])
        elbow, wrist = two_bone_ik(shoulder, wrist, s.upper_arm, s.forearm, pole)
        joints = place_hand(hand_local(hshape, n, wiggle), axes, wrist, hand_len)
        return elbow, wrist, joints

    off, twist, wiggle = movement_path(spec.movement, p, spec.repetitions, amp)
    if not right:
        off = off * mirror
    nondom_right = not right
    if spec.hands == "base":
        base_tip = location_point("neutral", s, right) * mirror + np.array([0.0, -0.08, -0.05])
        base_shape = HANDSHAPES[spec.base_handshape]
        nd = arm(nondom_right, np.tile(base_tip, (n, 1)), "up", np.zeros(n), base_shape)
        # the dominant hand acts just above the palm of the base hand
        loc = base_tip + np.array([0.0, 0.06, -0.35 * hand_len])
        dom = arm(right, loc + off, spec.orientation, twist, shape, wiggle)
    else:
        loc = location_point(spec.location, s, right)
        if spec.hands in ("symmetric", "alternating") and abs(loc[0]) < 0.05:
            loc = loc + np.array([-0.07 if right else 0.07, 0.0, 0.0])
        dom = arm(right, loc + off, spec.orientation, twist, shape, wiggle)
        if spec.hands == "one":
            nd_tip = np.tile(rest_wrist(s, nondom_right) + [0.0, 0.15, 0.02], (n, 1))
            nd = arm(nondom_right, nd_tip, "in", np.zeros(n), HANDSHAPES["B"])
        else:
            p2 = p
            if spec.hands == "alternating":
                p2 = np.clip(p + 0.5 * (p > 0), 0, spec.repetitions)
            off2, twist2, wiggle2 = movement_path(spec.movement, p2, spec.repetitions, amp)
            off2 = off2 if right else off2 * mirror
            nd = arm(nondom_right, loc * mirror + off2 * mirror, spec.orientation, twist2, shape, wiggle2)

    elbows = {"right": dom[0] if right else nd[0], "left": nd[0] if right else dom[0]}
    wrists = {"right": dom[1] if right else nd[1], "left": nd[1] if right else dom[1]}
    hands = {"right": dom[2] if right else nd[2], "left": nd[2] if right else dom[2]}
    face = face68(s, head, spec.mouth, spec.brows, w)
    out = np.concatenate([body17(s, head, wrists, elbows), face, hands["left"], hands["right"]], 1)
    return out


def project(points: np.ndarray, s: Signer, rng: np.random.Generator, image_size: int) -> np.ndarray:
    """Weak-perspective camera with per-clip scale, offset and yaw: (T, V, 3) -> (T, V, 2)."""
    f = image_size / 1.25 * rng.uniform(0.9, 1.1)
    yaw = s.yaw + rng.normal(0, 0.05)
    x = points[..., 0] * np.cos(yaw) + points[..., 2] * np.sin(yaw)
    z = -points[..., 0] * np.sin(yaw) + points[..., 2] * np.cos(yaw)
    persp = 2.5 / (2.5 - z)
    cx = image_size / 2 + rng.normal(0, 0.03 * image_size)
    cy = 0.4 * image_size + f * s.torso + rng.normal(0, 0.03 * image_size)
    return np.stack([cx + f * x * persp, cy - f * points[..., 1] * persp], -1)


@dataclass(frozen=True)
class DetectorNoise:
    """Jitter of a whole-body detector: AR(1) noise per point, its standard deviation per
    body part in pixels at a 512 px frame (about 150 px between the shoulders).

    ``synthetic.noise`` in params.yaml is calibrated on MediaPipe 0.10.14 Holistic running on the real-video
    fixture (``pipeline.data.jitter``: median |second difference| of rigid distances,
    e.g. shoulder to shoulder, eye corner to eye corner, across the palm, in shoulder
    widths): body 1.3, face 1.7, hands 14 thousandths of a shoulder width. The hands are
    tracked on a crop and jitter ten times more than the body; a uniform noise level
    would make the face 5x and the body 7x noisier than a real detector, which drowns
    the mouth and brow signals of the non-manual minimal pairs."""
    body_px: float
    face_px: float
    hands_px: float
    ar: float                # frame-to-frame correlation of the noise

    def sigma(self, num_points: int, image_size: int) -> np.ndarray:
        sigma = np.full(num_points, self.body_px)
        sigma[23:91] = self.face_px
        sigma[91:] = self.hands_px
        return sigma * image_size / 512

    def to_dict(self) -> dict:
        return asdict(self)


def detect(xy: np.ndarray, s: Signer, rng: np.random.Generator, image_size: int,
           noise: DetectorNoise) -> np.ndarray:
    """Add what a whole-body detector does to true positions: (T, 133, 2) -> (T, 133, 3)."""
    T, V, _ = xy.shape
    sigma = noise.sigma(V, image_size) * s.noise_scale
    eps = np.zeros((T, V, 2))
    state = rng.normal(0, 1, (V, 2)) * sigma[:, None] / np.sqrt(1 - noise.ar ** 2)   # stationary start
    for t in range(T):
        eps[t] = state
        state = noise.ar * state + rng.normal(0, 1, (V, 2)) * sigma[:, None]
    out_xy = xy + eps
    # Scores as MediaPipe Holistic's, mapped to the 133 layout (pose/holistic_map.py), read on
    # the real-video fixture: face and hand points score 1 whenever the face or hand is found
    # (0 when lost); the body's visibility is ~1 for head and shoulders and lower and smoothly
    # varying for elbows and wrists (0.76 and 0.53 on average there), dipping as the arm moves
    # fast. No frame-to-frame noise on the scores: a real detector's are smooth, and BatchNorm
    # would blow a near-constant channel's jitter up to the scale of the coordinates.
    score = np.ones((T, V))
    speed = np.zeros((T, V))
    speed[1:] = np.linalg.norm(np.diff(xy, axis=0), axis=-1)
    arms = [7, 8, 9, 10]
    score[:, arms] = 0.9 - np.minimum(0.5, speed[:, arms] / (25 * image_size / 512))
    # body points only: visibility dips with a misplaced point (the face and hands come whole)
    drop = np.zeros((T, V), bool)
    drop[:, :23] = rng.random((T, 23)) < s.dropout
    score[drop] *= rng.uniform(0.0, 0.3, drop.sum())
    out_xy[drop] += rng.normal(0, 5 * sigma[:23].mean(), (drop.sum(), 2))
    # points outside the frame (the legs of a signer filmed from the waist up): not visible
    outside = (out_xy < 0).any(-1) | (out_xy >= image_size).any(-1)
    score[outside] = 0.0
    out_xy = np.clip(out_xy, 0, image_size - 1)
    if rng.random() < s.missing_hand:       # a hand the detector lost for a while
        hand = slice(91, 112) if rng.random() < 0.5 else slice(112, 133)
        length = int(rng.integers(3, 13))
        start = int(rng.integers(0, max(1, T - length)))
        out_xy[start:start + length, hand] = 0.0
        score[start:start + length, hand] = 0.0
    return np.concatenate([out_xy, score[..., None]], -1).astype(np.float32)


def render_clip(spec: SignSpec, s: Signer, seed: list[int], fps: float, image_size: int,
                noise: DetectorNoise) -> np.ndarray:
    """One clip, (T, 133, 3) float32 pixels + score, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    pts = pose_3d(spec, s, rng, fps)
    return detect(project(pts, s, rng, image_size), s, rng, image_size, noise)
