"""MediaPipe Holistic (33 pose + 468 face-mesh + 2 x 21 hand landmarks) onto the
COCO-WholeBody-133 layout. Pure numpy, so it is testable without MediaPipe.

Left/right are the signer's in both layouts: Holistic's `left_hand_landmarks` and its
pose LEFT_* points are the person's left (their hand crops come from the pose wrists),
and COCO-WholeBody's left points are the person's left too. Nothing is mirrored.

- Body 0-16: the COCO points have direct pose counterparts (below).
- Feet 17-22: big toe <- foot index, heel <- heel; COCO's small toe has no counterpart
  (score 0).
- Face 23-90: the 68 iBUG points, each taken from the face-mesh vertex at the same place
  (the mapping commonly used to derive dlib-68 from the mesh). The mesh has no per-point
  confidence: a detected face gives score 1 to all 68.
- Hands 91-111 (left), 112-132 (right): the same 21-point order (wrist, then thumb,
  index, middle, ring, little finger, each base to tip); score 1 when the hand is found.
- Pose points carry MediaPipe's visibility as the score.
- Coordinates: MediaPipe's normalised x, y times the frame width, height (pixels).
- A landmark given as NaN (the isolated-sign competition's parquet writes a part that was not
  found as NaN rows) is not detected: (0, 0, 0), like a part given as None.
"""
from __future__ import annotations

import numpy as np

# COCO body index -> MediaPipe pose index.
POSE_TO_COCO_BODY = {
    0: 0,    # nose
    1: 2,    # left eye      <- left_eye (centre)
    2: 5,    # right eye     <- right_eye
    3: 7,    # left ear
    4: 8,    # right ear
    5: 11,   # left shoulder
    6: 12,   # right shoulder
    7: 13,   # left elbow
    8: 14,   # right elbow
    9: 15,   # left wrist
    10: 16,  # right wrist
    11: 23,  # left hip
    12: 24,  # right hip
    13: 25,  # left knee
    14: 26,  # right knee
    15: 27,  # left ankle
    16: 28,  # right ankle
    17: 31,  # left big toe  <- left_foot_index
    19: 29,  # left heel
    20: 32,  # right big toe <- right_foot_index
    22: 30,  # right heel
}

# iBUG-68 point k -> face-mesh vertex.
MESH_TO_FACE68 = [
    162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389,   # jaw 0-16
    71, 63, 105, 66, 107,                                                               # right brow 17-21
    336, 296, 334, 293, 301,                                                            # left brow 22-26
    168, 197, 5, 4,                                                                     # nose bridge 27-30
    75, 97, 2, 326, 305,                                                                # nose base 31-35
    33, 160, 158, 133, 153, 144,                                                        # right eye 36-41
    362, 385, 387, 263, 373, 380,                                                       # left eye 42-47
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,                                # outer lip 48-59
    78, 82, 13, 312, 308, 317, 14, 87,                                                  # inner lip 60-67
]

FACE_BASE, LEFT_HAND_BASE, RIGHT_HAND_BASE = 23, 91, 112
PARTS = {"pose": 33, "face": 468, "left_hand": 21, "right_hand": 21}   # Holistic's parts and their sizes
_COCO_BODY = list(POSE_TO_COCO_BODY)
_MP_BODY = list(POSE_TO_COCO_BODY.values())


def holistic_to_wholebody(pose: np.ndarray | None, face: np.ndarray | None, left_hand: np.ndarray | None,
                          right_hand: np.ndarray | None, width: int, height: int) -> np.ndarray:
    """One frame. ``pose`` (33, 3) as normalised x, y, visibility; ``face`` (468, 2+),
    hands (21, 2+) as normalised x, y; None (or NaN points) where not detected. Returns
    (133, 3) float32 (x px, y px, score); undetected points are (0, 0, 0)."""
    out = np.zeros((133, 3), np.float32)
    scale = np.array([width, height], np.float32)
    if pose is not None:
        out[_COCO_BODY, :2] = pose[_MP_BODY, :2] * scale
        out[_COCO_BODY, 2] = np.clip(pose[_MP_BODY, 2], 0.0, 1.0)
    if face is not None:
        out[FACE_BASE:FACE_BASE + 68, :2] = face[MESH_TO_FACE68, :2] * scale
        out[FACE_BASE:FACE_BASE + 68, 2] = 1.0
    for base, hand in ((LEFT_HAND_BASE, left_hand), (RIGHT_HAND_BASE, right_hand)):
        if hand is not None:
            out[base:base + 21, :2] = hand[:, :2] * scale
            out[base:base + 21, 2] = 1.0
    out[~np.isfinite(out).all(1)] = 0.0     # each point is a copy of one landmark: NaN marks exactly the missing
    return out


def holistic_frames(parts: dict[str, np.ndarray], width: int, height: int) -> np.ndarray:
    """A clip: (T, n, 3) arrays per part (x, y normalised; the pose's third value its score), NaN
    where a landmark was not found, a part left out not found anywhere -> (T, 133, 3)."""
    frames = len(next(iter(parts.values())))
    full = {**{name: np.full((frames, n, 3), np.nan, np.float32) for name, n in PARTS.items()}, **parts}
    out = [holistic_to_wholebody(full["pose"][t], full["face"][t], full["left_hand"][t], full["right_hand"][t],
                                 width, height) for t in range(frames)]
    return np.stack(out) if out else np.zeros((0, 133, 3), np.float32)
