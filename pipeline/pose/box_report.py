"""`benchmark rtmw-box`: how large a hand is in a top-down model's input with the whole frame
as the box and with the person box (pipeline/pose/person_box.py), on a video and on a landscape
version of it (the same frames centred on a 16:9 canvas, as a 1280x720 recording of the same
signer would be). No model weights are needed: the boxes are what `pose.rtmw.box` crops, and
the hands are MediaPipe Holistic's (the mediapipe backend), mapped into the model's input.
"""
from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np

from .backends.registry import make_backend
from .person_box import body_points, frame_box, hand_size_in_input, person_boxes
from .video import iter_frames, open_video

log = logging.getLogger(__name__)

RTMW_INPUT = (288, 384)          # RTMW-x / DWPose-l whole-body input (W, H)
BOXES = {"frame": {"box": "frame"}, "person, per clip": {"box": "person", "box_per": "clip"},
         "person, per frame": {"box": "person", "box_per": "frame"}}


def landscape_copy(video: Path, out: Path) -> Path:
    """The video's frames centred on a 16:9 canvas of their height (grey, mmpose's pad value)."""
    import cv2

    cap, info = open_video(str(video))
    writer = None
    for rgb in iter_frames(cap):
        h, w = rgb.shape[:2]
        width = max(w, (h * 16 // 9) // 2 * 2)
        if writer is None:
            writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), info.fps or 25.0, (width, h))
        canvas = np.full((h, width, 3), 114, np.uint8)
        canvas[:, (width - w) // 2:(width - w) // 2 + w] = rgb
        writer.write(cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    if writer is None:
        raise ValueError(f"{video}: no frames")
    writer.release()
    return out


def box_rows(params: dict, video: Path, label: str, size: tuple[int, int] = RTMW_INPUT) -> list[dict]:
    """Per box setting: the hands' median (and 10-90 % range) longer side in the model's input."""
    hands = make_backend({**params["pose"], "backend": "mediapipe"})({"video": str(video), "sample_id": label})
    points, frame = body_points(str(video))
    aspect = size[0] / size[1]
    rows = []
    for name, setting in BOXES.items():
        cfg = {**params["pose"]["rtmw"], **setting}
        if cfg["box"] == "frame":
            boxes = [frame_box(*frame, aspect, cfg["box_padding"])] * len(points)
        else:
            boxes = person_boxes(points, frame, cfg, aspect)
        sizes = hand_size_in_input(hands, boxes, size[0])
        rows.append({"video": label, "frame": f"{frame[0]}x{frame[1]}", "box": name, "hands": len(sizes),
                     "median_px": float(np.median(sizes)) if len(sizes) else float("nan"),
                     "p10_px": float(np.percentile(sizes, 10)) if len(sizes) else float("nan"),
                     "p90_px": float(np.percentile(sizes, 90)) if len(sizes) else float("nan"),
                     "box_w": float(np.median([s[0] for _, s in boxes]))})
    frame_median = rows[0]["median_px"]
    for row in rows:
        row["vs_frame"] = row["median_px"] / frame_median
    return rows


def benchmark_rtmw_box(params: dict, video: Path) -> list[dict]:
    if not Path(video).exists():
        raise FileNotFoundError(f"{video}: no video to measure on (pass --video)")
    with tempfile.TemporaryDirectory(prefix="gspmc-box-") as tmp:
        wide = landscape_copy(Path(video), Path(tmp) / "landscape.mp4")
        rows = box_rows(params, Path(video), "as given") + box_rows(params, wide, "landscape")
    print(f"video: {video}; model input {RTMW_INPUT[0]}x{RTMW_INPUT[1]} (RTMW-x), box_padding "
          f"{params['pose']['rtmw']['box_padding']}; a hand's longer side in the model's input, px", flush=True)
    print(f"{'video':10s} {'frame':>9s} {'box':18s} {'hands':>5s} {'median':>7s} {'p10-p90':>12s} "
          f"{'box w':>7s} {'x frame':>7s}", flush=True)
    for r in rows:
        print(f"{r['video']:10s} {r['frame']:>9s} {r['box']:18s} {r['hands']:5d} {r['median_px']:7.1f} "
              f"{r['p10_px']:5.1f}-{r['p90_px']:<6.1f} {r['box_w']:7.0f} {r['vs_frame']:7.2f}", flush=True)
    return rows
