"""The person box a top-down model without a detector crops, from MediaPipe Pose's body points
(`pose.rtmw.box: person`), and the whole-frame box it replaces.

A box is (centre, scale): scale is its (w, h) once widened to the model's aspect ratio and
padded by `box_padding`, as mmpose/rtmlib treat a detected box. The person's box is the
extent of the body landmarks MediaPipe sees with visibility >= `person_min_score` (the face's
landmarks stop at the eyes, so the top is raised to the head's top: HEAD_ABOVE_EYES ear-to-ear
widths above the eyes) and cut at the frame's edges, per frame or the union over the clip
(`box_per`). A frame (or a clip)
where no body is seen gets the whole frame. MediaPipe Pose (complexity 1, shipped in the
wheel) runs over the video in a pass of its own before the model's, so the video is decoded
twice.
"""
from __future__ import annotations

import numpy as np

from .video import iter_frames, open_video

# the top of the head above the eyes, in ear-to-ear widths (a head is ~1.2 widths from its top to
# the chin and the eyes sit near its middle)
HEAD_ABOVE_EYES = 0.7
LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR = 2, 5, 7, 8       # MediaPipe Pose landmark indices

Box = tuple[np.ndarray, np.ndarray]                          # centre (x, y), scale (w, h), pixels


def aspect_box(lo: np.ndarray, hi: np.ndarray, aspect: float, padding: float) -> Box:
    """The box around [lo, hi] (x, y corners), widened to ``aspect`` (w / h) and padded."""
    w, h = float(hi[0] - lo[0]), float(hi[1] - lo[1])
    if w > h * aspect:
        h = w / aspect
    else:
        w = h * aspect
    centre = (np.asarray(lo, np.float32) + np.asarray(hi, np.float32)) / 2
    return centre.astype(np.float32), np.array([w, h], np.float32) * padding


def frame_box(width: int, height: int, aspect: float, padding: float) -> Box:
    """The whole frame as the box."""
    return aspect_box(np.zeros(2), np.array([width, height], np.float32), aspect, padding)


def body_extent(points: np.ndarray | None, min_score: float) -> tuple[np.ndarray, np.ndarray] | None:
    """(33, 3) pose landmarks in pixels with visibility -> the (lo, hi) corners of the seen ones,
    the top raised to the head's; None when fewer than two are seen."""
    if points is None:
        return None
    seen = points[:, 2] >= min_score
    if seen.sum() < 2:
        return None
    lo, hi = points[seen, :2].min(0), points[seen, :2].max(0)
    if seen[[LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR]].all():
        eyes_y = (points[LEFT_EYE, 1] + points[RIGHT_EYE, 1]) / 2
        ears = np.linalg.norm(points[LEFT_EAR, :2] - points[RIGHT_EAR, :2])
        lo = np.array([lo[0], min(lo[1], eyes_y - HEAD_ABOVE_EYES * ears)], np.float32)
    return lo, hi


def body_points(video: str) -> tuple[list[np.ndarray | None], tuple[int, int]]:
    """MediaPipe Pose over the video: each frame's (33, 3) landmarks (x px, y px, visibility),
    None where no body is found; and the frame size (w, h)."""
    import warnings

    from mediapipe.python.solutions.pose import Pose

    cap, _ = open_video(video)
    out, size = [], (0, 0)
    with warnings.catch_warnings(), Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=True,
                                         min_detection_confidence=0.5, min_tracking_confidence=0.5) as pose:
        warnings.simplefilter("ignore", UserWarning)      # protobuf deprecation noise from inside mediapipe
        for rgb in iter_frames(cap):
            h, w = rgb.shape[:2]
            size = (w, h)
            res = pose.process(rgb)
            out.append(None if res.pose_landmarks is None else np.array(
                [(p.x * w, p.y * h, p.visibility) for p in res.pose_landmarks.landmark], np.float32))
    return out, size


def person_boxes(points: list[np.ndarray | None], size: tuple[int, int], cfg: dict, aspect: float) -> list[Box]:
    """One box per frame from its body points: the frame's own (``box_per: frame``) or the clip's
    union (``clip``); the whole frame where there is none."""
    whole = frame_box(*size, aspect, cfg["box_padding"])
    # MediaPipe places landmarks outside the frame too (hips, knees below a half-body shot); the
    # model sees only the frame, so the extent ends at its edges
    corner = np.array(size, np.float32)
    extents = [None if e is None else (np.clip(e[0], 0, corner), np.clip(e[1], 0, corner))
               for e in (body_extent(p, cfg["person_min_score"]) for p in points)]
    seen = [e for e in extents if e is not None]
    if not seen:
        return [whole] * len(points)
    if cfg["box_per"] == "clip":
        union = aspect_box(np.min([lo for lo, _ in seen], 0), np.max([hi for _, hi in seen], 0), aspect,
                           cfg["box_padding"])
        return [union] * len(points)
    return [whole if e is None else aspect_box(*e, aspect, cfg["box_padding"]) for e in extents]


def hand_size_in_input(frames: np.ndarray, boxes: list[Box], input_width: int) -> np.ndarray:
    """The longer side of each found hand's box (21 points with score > 0), in pixels of the
    model's input once ``boxes`` are cropped and resized to ``input_width`` (the box is at the
    model's aspect ratio, so both axes scale alike); one value per hand per frame."""
    sizes = []
    for points, (_, scale) in zip(frames, boxes):
        for base in (91, 112):
            hand = points[base:base + 21]
            if (hand[:, 2] > 0).all():
                side = (hand[:, :2].max(0) - hand[:, :2].min(0)).max()
                sizes.append(side * input_width / scale[0])
    return np.array(sizes, np.float32)
