"""A 3D signer: upper body with arm inverse kinematics, 21-joint hands, a 68-point face.

Coordinates are metres in the signer's body frame: X towards the signer's left (the
image right), Y up, Z forward (towards the camera), origin between the hips.
Everything here is a pure function of its arguments; randomness is passed in.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .phonology import FINGER_STATES, LOCATIONS, Handshape


@dataclass(frozen=True)
class Signer:
    """Per-signer proportions and style. Sampled once per signer from the corpus seed."""
    signer_id: int
    height: float          # overall scale
    shoulder_width: float
    hip_width: float
    torso: float           # hips to shoulders
    neck: float
    head_radius: float
    upper_arm: float
    forearm: float
    hand: float            # wrist to middle fingertip
    right_handed: bool
    tempo: float           # duration multiplier (>1 signs slower)
    amplitude: float       # movement size multiplier
    location_bias: tuple[float, float, float]   # idiosyncratic offset of every location
    noise_scale: float     # this signer's detector noise relative to the corpus's (lighting, clothing)
    dropout: float         # probability of a per-point confidence drop
    missing_hand: float    # probability of a clip with a missing-hand segment
    yaw: float             # habitual body rotation relative to the camera, radians

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "Signer":
        d = dict(d)
        d["location_bias"] = tuple(d["location_bias"])
        return Signer(**d)


# The traits the corpus stratifies across its splits (corpus.stratified_quantiles) and their
# ranges: body size, signing speed, movement size, body rotation to the camera.
STRATIFIED_TRAITS: dict[str, tuple[float, float]] = {
    "height": (0.88, 1.12), "tempo": (0.8, 1.25), "amplitude": (0.75, 1.25), "yaw": (-0.2, 0.2)}


def sample_signer(rng: np.random.Generator, signer_id: int, dropout: float,
                  quantiles: dict[str, float] | None = None) -> Signer:
    """A right-handed signer; the corpus decides who is left-handed (corpus.assign_handedness).
    ``quantiles`` places each of STRATIFIED_TRAITS in its range (0..1); a trait not given is drawn."""
    q = {t: float(rng.uniform()) for t in STRATIFIED_TRAITS}
    q.update(quantiles or {})
    trait = {t: lo + q[t] * (hi - lo) for t, (lo, hi) in STRATIFIED_TRAITS.items()}
    h = trait["height"]
    prop = lambda base: float(base * h * rng.uniform(0.93, 1.07))  # noqa: E731
    return Signer(
        signer_id=signer_id, height=h,
        shoulder_width=prop(0.36), hip_width=prop(0.28), torso=prop(0.50), neck=prop(0.09),
        head_radius=prop(0.105), upper_arm=prop(0.29), forearm=prop(0.26), hand=prop(0.185),
        right_handed=True,
        tempo=trait["tempo"], amplitude=trait["amplitude"],
        location_bias=tuple(float(v) for v in rng.normal(0.0, 0.015, size=3)),
        noise_scale=float(rng.uniform(0.6, 1.4)),
        dropout=float(dropout * rng.uniform(0.5, 1.5)),
        missing_hand=float(rng.uniform(0.05, 0.25)),
        yaw=trait["yaw"],
    )


# ----------------------------------------------------------------------------- body
def body_anchors(s: Signer) -> dict[str, np.ndarray]:
    """Fixed 3D landmarks of the torso and head (the torso does not move here)."""
    sh_y = s.torso
    head = np.array([0.0, sh_y + s.neck + s.head_radius, 0.02])
    return {
        "hip_l": np.array([s.hip_width / 2, 0.0, 0.0]),
        "hip_r": np.array([-s.hip_width / 2, 0.0, 0.0]),
        "sh_l": np.array([s.shoulder_width / 2, sh_y, 0.0]),
        "sh_r": np.array([-s.shoulder_width / 2, sh_y, 0.0]),
        "chest": np.array([0.0, sh_y - 0.12 * s.height, 0.0]),
        "head": head,
    }


def body17(s: Signer, head: np.ndarray, wrists: dict[str, np.ndarray],
           elbows: dict[str, np.ndarray]) -> np.ndarray:
    """COCO body points 0-16 and feet 17-22 for T frames: returns (T, 23, 3)."""
    T = head.shape[0]
    a = body_anchors(s)
    r = s.head_radius
    out = np.zeros((T, 23, 3))
    out[:, 0] = head + [0.0, -0.01, r]                  # nose
    out[:, 1] = head + [0.032, 0.035, 0.85 * r]         # left eye
    out[:, 2] = head + [-0.032, 0.035, 0.85 * r]        # right eye
    out[:, 3] = head + [r, 0.01, 0.0]                   # left ear
    out[:, 4] = head + [-r, 0.01, 0.0]
    out[:, 5], out[:, 6] = a["sh_l"], a["sh_r"]
    out[:, 7], out[:, 8] = elbows["left"], elbows["right"]
    out[:, 9], out[:, 10] = wrists["left"], wrists["right"]
    out[:, 11], out[:, 12] = a["hip_l"], a["hip_r"]
    leg = 0.45 * s.height
    out[:, 13] = a["hip_l"] + [0.02, -leg, 0.03]
    out[:, 14] = a["hip_r"] + [-0.02, -leg, 0.03]
    out[:, 15] = out[:, 13] + [0.0, -leg, -0.03]
    out[:, 16] = out[:, 14] + [0.0, -leg, -0.03]
    for k, sign in enumerate((1.0, -1.0)):       # left, right
        ankle = out[:, 15 + k]
        out[:, 17 + 3 * k] = ankle + [sign * 0.02, -0.06, 0.16]   # big toe
        out[:, 18 + 3 * k] = ankle + [sign * 0.07, -0.06, 0.13]   # small toe
        out[:, 19 + 3 * k] = ankle + [0.0, -0.07, -0.05]          # heel
    return out


def two_bone_ik(shoulder: np.ndarray, wrist: np.ndarray, upper: float, fore: float,
                pole: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Elbow positions for wrist targets (T, 3); unreachable targets are pulled in.
    Returns (elbow, reachable wrist)."""
    d_vec = wrist - shoulder
    d = np.linalg.norm(d_vec, axis=-1, keepdims=True)
    d_clamped = np.clip(d, abs(upper - fore) + 1e-3, upper + fore - 1e-3)
    direction = d_vec / np.maximum(d, 1e-9)
    wrist = shoulder + direction * d_clamped
    along = (upper ** 2 - fore ** 2 + d_clamped ** 2) / (2 * d_clamped)
    height = np.sqrt(np.maximum(upper ** 2 - along ** 2, 0.0))
    perp = pole - np.sum(pole * direction, axis=-1, keepdims=True) * direction
    perp /= np.maximum(np.linalg.norm(perp, axis=-1, keepdims=True), 1e-9)
    return shoulder + direction * along + perp * height, wrist


# ----------------------------------------------------------------------------- hands
def _rot(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rodrigues rotation matrices (T, 3, 3) about unit axes (T, 3) by angles (T,)."""
    axis = axis / np.linalg.norm(axis, axis=-1, keepdims=True)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    c, s = np.cos(angle), np.sin(angle)
    C = 1 - c
    return np.stack([
        np.stack([c + x * x * C, x * y * C - z * s, x * z * C + y * s], -1),
        np.stack([y * x * C + z * s, c + y * y * C, y * z * C - x * s], -1),
        np.stack([z * x * C - y * s, z * y * C + x * s, c + z * z * C], -1),
    ], -2)


# Local hand frame: u along the fingers, s towards the thumb, n out of the palm.
_FINGER_BASE = {  # (u, s) of each MCP in units of hand length, index..pinky
    0: (0.44, 0.085), 1: (0.46, 0.028), 2: (0.44, -0.03), 3: (0.40, -0.085)}
_FINGER_LEN = (0.40, 0.44, 0.41, 0.32)   # MCP to tip, units of hand length
_SEGMENTS = (0.45, 0.30, 0.25)


def hand_local(shape: Handshape, T: int, wiggle: np.ndarray | None = None) -> np.ndarray:
    """The 21 hand joints in the local (u, s, n) frame for a unit hand: (T, 21, 3).
    ``wiggle`` (T, 4) adds flexion in degrees per finger (finger wiggling movements)."""
    pts = np.zeros((T, 21, 3))
    tips = {}
    for f in range(4):
        mcp, pip, dip = FINGER_STATES[shape.fingers[f]]
        extra = wiggle[:, f] if wiggle is not None else np.zeros(T)
        spread = np.deg2rad((1.5 - f) * 7.0 * shape.spread)
        u0, s0 = _FINGER_BASE[f]
        base = np.array([u0, s0, 0.0])
        pts[:, 5 + 4 * f] = base
        pos = np.tile(base, (T, 1))
        angle = np.zeros(T)
        for k, flex in enumerate((mcp, pip, dip)):
            angle = angle + np.deg2rad(flex + extra * (1.0 if k < 2 else 0.6))
            seg = _FINGER_LEN[f] * _SEGMENTS[k]
            # flexion turns the finger from +u towards +n (into the palm side)
            d = np.stack([np.cos(angle) * np.cos(spread), np.full(T, np.sin(spread)) * np.cos(angle),
                          np.sin(angle)], -1)
            pos = pos + seg * d
            pts[:, 5 + 4 * f + k + 1] = pos
        tips[f] = pos
    # Thumb: CMC then three segments towards a target that depends on the thumb state.
    cmc = np.array([0.08, 0.09, 0.03])
    pts[:, 1] = cmc
    thumb_len = 0.36
    targets = {
        "out": np.array([0.22, 0.30, 0.02]),
        "side": np.array([0.33, 0.11, 0.04]),
        "across": np.array([0.30, -0.05, 0.12]),
        "curved": np.array([0.28, 0.17, 0.20]),
    }
    if shape.thumb == "touch":
        # the thumb tip meets the tip of the first curved finger
        f = next((k for k in range(4) if shape.fingers[k] == "curved"), 0)
        target = tips[f]
    else:
        target = np.tile(targets[shape.thumb], (T, 1))
    chord = target - cmc
    bulge = np.array([0.0, 0.04, 0.05])       # a slight outward bow of the thumb
    for k, frac in enumerate((0.38, 0.70, 1.0)):
        bow = np.sin(np.pi * frac) * bulge if frac < 1.0 else 0.0
        pts[:, 2 + k] = cmc + chord * frac + bow
    # scale the thumb chain to its length
    length = np.linalg.norm(chord, axis=-1, keepdims=True)
    pts[:, 2:5] = cmc + (pts[:, 2:5] - cmc) * np.minimum(1.0, thumb_len / np.maximum(length, 1e-6))[:, None]
    return pts


# palm orientation -> (u fingers, s thumb side, n palm normal) for a RIGHT hand
_ORIENT = {
    "forward": ((0, 1, 0), (1, 0, 0), (0, 0, 1)),
    "in": ((0, 1, 0), (-1, 0, 0), (0, 0, -1)),
    "down": ((0, 0, 1), (1, 0, 0), (0, -1, 0)),
    "up": ((0, 0, 1), (-1, 0, 0), (0, 1, 0)),
    "side": ((0, 0, 1), (0, 1, 0), (1, 0, 0)),
}


def hand_frame(orientation: str, right: bool, twist: np.ndarray) -> np.ndarray:
    """World axes of the hand frame as rows (T, 3, 3); the left hand is the mirror
    image of the right. ``twist`` rotates about the finger axis (radians, (T,))."""
    u, s, n = (np.array(v, dtype=float) for v in _ORIENT[orientation])
    T = twist.shape[0]
    R = _rot(np.tile(u, (T, 1)), twist)
    axes = np.stack([np.tile(u, (T, 1)), R @ s, R @ n], 1)
    if not right:
        axes = axes * np.array([-1.0, 1.0, 1.0])
    return axes


def place_hand(local: np.ndarray, axes: np.ndarray, wrist: np.ndarray, size: float) -> np.ndarray:
    """Local unit-hand joints (T, 21, 3) -> world (T, 21, 3) at the wrist."""
    return wrist[:, None, :] + size * np.einsum("tjk,tkd->tjd", local, axes)


def location_point(location: str, s: Signer, right: bool) -> np.ndarray:
    """Target of the dominant hand's fingertips for a location (mirrored for the left)."""
    anchor, offset, _, _ = LOCATIONS[location]
    a = body_anchors(s)
    off = np.array(offset) * s.height
    if not right:
        off[0] = -off[0]
    return a[anchor] + off + np.array(s.location_bias)


def rest_wrist(s: Signer, right: bool) -> np.ndarray:
    side = -1.0 if right else 1.0
    return np.array([side * 0.17 * s.height, 0.06 * s.height, 0.14])


# ----------------------------------------------------------------------------- face
def _face_template() -> np.ndarray:
    """iBUG-68 face template in units of the head radius, (68, 2) as (X, Y)."""
    pts = np.zeros((68, 2))
    phi = np.linspace(0, np.pi, 17)
    pts[0:17, 0] = -0.86 * np.cos(phi)
    pts[0:17, 1] = 0.10 - 1.0 * np.sin(phi)
    bx = np.linspace(-0.66, -0.16, 5)
    pts[17:22] = np.stack([bx, 0.42 + 0.05 * np.sin(np.linspace(0.3, 2.8, 5))], -1)
    pts[22:27] = np.stack([-bx[::-1], pts[17:22, 1][::-1]], -1)
    pts[27:31] = np.stack([np.zeros(4), np.linspace(0.30, -0.12, 4)], -1)
    pts[31:36] = np.stack([np.linspace(-0.15, 0.15, 5), [-0.20, -0.23, -0.25, -0.23, -0.20]], -1)
    # Both eyes start at theta = pi: the right eye's outer corner, the left eye's inner one.
    theta = np.pi - np.arange(6) * np.pi / 3
    for start, cx in ((36, -0.35), (42, 0.35)):
        pts[start:start + 6] = np.stack([cx + 0.11 * np.cos(theta), 0.25 + 0.045 * np.sin(theta)], -1)
    return pts


_FACE = _face_template()


def face68(s: Signer, head: np.ndarray, mouth: str, brows: str, intensity: np.ndarray) -> np.ndarray:
    """The 68 face points (T, 68, 3) with the mouth and brow actions at ``intensity``
    (T,) in [0, 1]. Mouth points are computed from width/height so the actions change
    the shape of the lips, not just their place."""
    T = head.shape[0]
    r = s.head_radius
    m = intensity[:, None]
    pts = np.tile(_FACE, (T, 1, 1))
    # lips: outer 48-59 (12 points from the right corner, over the top), inner 60-67
    w, hu, hl, open_ = 0.24 * np.ones((T, 1)), 0.07 * np.ones((T, 1)), 0.09 * np.ones((T, 1)), 0.005 * np.ones((T, 1))
    cy = -0.52
    if mouth == "open":
        open_ = open_ + 0.22 * m
        hl = hl + 0.10 * m
        pts[:, 5:12, 1] -= (0.16 * m) * np.sin(np.linspace(0.4, np.pi - 0.4, 7))[None, :]
    elif mouth == "round":
        w = w * (1 - 0.45 * m)
        hu, hl = hu * (1 + 0.6 * m), hl * (1 + 0.4 * m)
        open_ = open_ + 0.08 * m
    elif mouth == "stretched":
        w = w * (1 + 0.35 * m)
        hu, hl = hu * (1 - 0.45 * m), hl * (1 - 0.45 * m)
    elif mouth == "puffed":
        w = w * (1 - 0.12 * m)
        for k in (2, 3, 4, 12, 13, 14):
            pts[:, k, 0] *= 1 + 0.16 * m[:, 0]
    theta = np.pi - np.arange(12) * np.pi / 6
    upper = np.sin(theta) >= 0
    h = np.where(upper[None, :], hu, hl)
    pts[:, 48:60, 0] = w * np.cos(theta)[None, :]
    pts[:, 48:60, 1] = cy + h * np.sin(theta)[None, :] - np.where(upper[None, :], 0.0, open_)
    theta_i = np.pi - np.arange(8) * np.pi / 4
    up_i = np.sin(theta_i) >= 0
    pts[:, 60:68, 0] = 0.7 * w * np.cos(theta_i)[None, :]
    pts[:, 60:68, 1] = cy + np.where(up_i[None, :], 0.25 * hu * np.sin(theta_i)[None, :],
                                     0.25 * hl * np.sin(theta_i)[None, :] - open_)
    if brows == "raised":
        pts[:, 17:27, 1] += 0.13 * m
        pts[:, [37, 38, 43, 44], 1] += 0.03 * m
    elif brows == "furrowed":
        inner = [19, 20, 21, 22, 23, 24]
        pts[:, inner, 1] -= 0.08 * m
        pts[:, [20, 21], 0] += 0.05 * m
        pts[:, [22, 23], 0] -= 0.05 * m
        pts[:, [37, 38, 43, 44], 1] -= 0.02 * m
    xy = pts * r
    depth = r * np.sqrt(np.clip(1.0 - (pts ** 2).sum(-1), 0.05, None))
    if mouth == "round":
        depth[:, 48:68] += 0.3 * r * m
    if mouth == "puffed":
        depth[:, 48:60] += 0.15 * r * m
    return head[:, None, :] + np.concatenate([xy, depth[..., None]], -1)
