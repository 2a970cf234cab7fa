"""`gspmc overlay`: a video with its pose drawn on it, so a user sees what the model sees.

Every frame gets all 133 COCO-WholeBody points as dots and the keypoint preset's bones as
lines, coloured by part (body, face, left hand, right hand) and alpha-blended with their
score: an uncertain point fades, a point under ``min_score`` (or with score 0: undetected)
is not drawn. The backend runs once over the video; the frames are then decoded again and
written, one output frame per decoded frame, to an mp4 (mp4v) with the input's fps and size.
The file is written under a temporary name and renamed, so a failure leaves no output."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..data.wholebody import NUM_WHOLEBODY, Preset, get_preset, part_of
from ..io import atomic_path
from ..pose.video import MIN_FRAMES

log = logging.getLogger(__name__)

# The `pose` section the pipeline uses for videos (params.yaml's MediaPipe defaults), so
# that overlay needs no params file: MediaPipe 0.10.14 Holistic, the complexity its wheel ships.
POSE_DEFAULTS = {
    "backend": "mediapipe",
    "min_decoded_fraction": 0.9,   # fewer decoded frames than this x the header's count: truncated
    "min_frames": MIN_FRAMES,
    "mediapipe": {"model_complexity": 1, "min_detection_confidence": 0.5, "min_tracking_confidence": 0.5},
}
DEFAULT_PRESET = "gspmc87"
MIN_SCORE = 0.05
FALLBACK_FPS = 25.0            # a header without a frame rate

# BGR (OpenCV's order); the mouth is part of the face here
PART_COLOURS = {"body": (80, 220, 80), "face": (235, 235, 235),
                "left_hand": (255, 150, 40), "right_hand": (60, 60, 255)}
_POINT_COLOURS = [PART_COLOURS.get(part_of(i), PART_COLOURS["face"]) for i in range(NUM_WHOLEBODY)]


def preset_bones(preset: Preset) -> list[tuple[int, int]]:
    """The preset's bones as (child, parent) pairs of 133-layout indices."""
    return [(preset.indices[c], preset.indices[p]) for c, p in preset.edges]


def draw_pose(frame: np.ndarray, points: np.ndarray, bones: list[tuple[int, int]],
              min_score: float = MIN_SCORE, radius: int | None = None,
              thickness: int | None = None) -> np.ndarray:
    """``frame`` (H, W, 3) uint8, BGR (the colours are BGR; an RGB frame only swaps them)
    with ``points`` (133, 3: x px, y px, score) and ``bones`` ((child, parent) 133-layout
    indices) drawn on it: a new array, the input is left as it is. Each dot and line is
    blended with alpha = its score (a bone: the lower of its two ends' scores); points
    below ``min_score``, with score 0 or not finite are not drawn, nor bones touching them."""
    import cv2

    h, w = frame.shape[:2]
    radius = radius or max(1, round(min(h, w) / 200))
    thickness = thickness or max(1, round(min(h, w) / 300))
    score = np.clip(np.nan_to_num(points[:, 2].astype(np.float64)), 0.0, 1.0)
    shown = np.isfinite(points[:, :2]).all(axis=1) & (score > 0) & (score >= min_score)
    limit = 4 * max(h, w)      # far off-frame points stay off-frame without overflowing cv2's int
    xy = np.clip(np.round(np.nan_to_num(points[:, :2])), -limit, limit).astype(int)
    colour = np.zeros_like(frame)
    alpha = np.zeros((h, w), np.uint8)    # 255 x score of what is drawn on top at each pixel
    for child, parent in bones:
        if shown[child] and shown[parent]:
            a, b = tuple(map(int, xy[child])), tuple(map(int, xy[parent]))
            cv2.line(colour, a, b, _POINT_COLOURS[child], thickness)
            cv2.line(alpha, a, b, round(255 * min(score[child], score[parent])), thickness)
    for i in np.flatnonzero(shown):      # dots over the bones
        centre = tuple(map(int, xy[i]))
        cv2.circle(colour, centre, radius, _POINT_COLOURS[i], -1)
        cv2.circle(alpha, centre, radius, round(255 * score[i]), -1)
    if not alpha.any():
        return frame.copy()
    a = alpha[..., None].astype(np.float32) / 255.0
    return np.round(frame * (1.0 - a) + colour * a).astype(np.uint8)


def write_overlay(video: str | Path, out: str | Path, pose_cfg: dict | None = None,
                  preset: str | Preset = DEFAULT_PRESET, min_score: float = MIN_SCORE) -> dict:
    """Run the pose backend (``pose_cfg``: a `pose` params section of a video backend;
    default POSE_DEFAULTS) on ``video`` and write ``out`` (.mp4) with the pose drawn on
    every frame. A video the backend refuses raises ValueError naming the file and the
    reason, and nothing is written. Returns frames, fps, width and height of ``out``."""
    import cv2
    from tqdm import tqdm

    from ..pose.backends.registry import make_backend
    from ..pose.video import VideoError, iter_frames, open_video

    video, out = Path(video), Path(out)
    if out.suffix.lower() != ".mp4":
        raise ValueError(f"{out}: the overlay is an mp4 video, name it *.mp4")
    if isinstance(preset, str):
        preset = get_preset(preset)             # an unknown preset fails before the slow part
    bones = preset_bones(preset)
    backend = make_backend(pose_cfg or POSE_DEFAULTS)
    try:
        cap, info = open_video(video)
        cap.release()
        with tqdm(total=info.declared_frames or None, desc="pose", unit="frame", disable=None, leave=False) as bar:
            poses = backend({"sample_id": video.stem, "video": str(video)}, progress=bar)
        detected = {part: int((poses[:, idx, 2] > 0).any(axis=1).sum()) for part, idx in
                    (("body", slice(0, 17)), ("left hand", slice(91, 112)), ("right hand", slice(112, 133)))}
        log.info("%s: %d frames; %s", video, len(poses),
                 ", ".join(f"{part} in {n}" for part, n in detected.items()))
        fps = info.fps if info.fps > 0 else FALLBACK_FPS
        with atomic_path(out, suffix=".tmp.mp4") as tmp:    # VideoWriter picks the container by the name
            written, size = _write_frames(iter_frames(open_video(video)[0]), poses, bones, min_score, tmp, fps,
                                          tqdm(total=len(poses), desc="overlay", unit="frame", disable=None,
                                               leave=False))
            if written != len(poses):
                raise RuntimeError(f"{video}: decoded {written} frames for the overlay but {len(poses)} for the "
                                   f"pose (did the file change meanwhile?)")
            check = cv2.VideoCapture(str(tmp))
            in_file = int(check.get(cv2.CAP_PROP_FRAME_COUNT))
            check.release()
            if in_file != written:
                raise RuntimeError(f"{out}: wrote {written} frames but the file holds {in_file} (the mp4v "
                                   f"encoder of this OpenCV build failed)")
    except VideoError as exc:
        raise ValueError(f"{video}: {exc}") from exc
    log.info("wrote %s: %d frames, %dx%d at %g fps (preset %s bones, points with score >= %g)",
             out, written, size[0], size[1], fps, preset.name, min_score)
    return {"frames": written, "fps": fps, "width": size[0], "height": size[1]}


def _write_frames(frames, poses: np.ndarray, bones, min_score: float, path: Path, fps: float, bar):
    """Draw and write each decoded RGB frame; the writer takes the first frame's size
    (the decoded size, which a rotated video's header may not say). -> (count, (w, h))."""
    import cv2

    writer, size, n = None, (0, 0), 0
    try:
        for rgb in frames:
            n += 1
            if n > len(poses):
                continue                 # more frames than the pose: counted, the caller says so
            if writer is None:
                size = (rgb.shape[1], rgb.shape[0])
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
                if not writer.isOpened():
                    raise RuntimeError(f"{path}: OpenCV cannot open an mp4v writer here")
            writer.write(draw_pose(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), poses[n - 1], bones, min_score))
            bar.update(1)
    finally:
        bar.close()
        if writer is not None:
            writer.release()
    return n, size
