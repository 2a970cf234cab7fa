"""RTMW / DWPose whole-body models exported to ONNX (SimCC heads, 133 COCO-WholeBody
points), run with onnxruntime from a local file (`pose.rtmw.model`); nothing is downloaded.

Top-down without a detector: the person box is the whole frame (`box: frame`; isolated-sign
videos show one signer), or the box of MediaPipe Pose's body points (`box: person`, per clip or
per frame: pipeline/pose/person_box.py), widened to the model's aspect ratio and padded by
`box_padding`, as mmpose/rtmlib do for a detected box. Preprocessing as in mmpose: RGB,
ImageNet mean/std.
Decoding: the arg-max bin of each SimCC axis divided by the split ratio (the model's
output length over its input size); the score is the smaller of the two maxima.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...io import file_digest
from ..person_box import Box, body_points, frame_box, person_boxes
from ..video import MIN_FRAMES
from .video_backend import VideoBackend

MEAN = np.array([123.675, 116.28, 103.53], np.float32)
STD = np.array([58.395, 57.12, 57.375], np.float32)


def crop_to_input(rgb: np.ndarray, center: np.ndarray, scale: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The box, resized to the model's (W, H), normalised, as a (1, 3, H, W) tensor."""
    import cv2

    W, H = size
    src = np.array([center - scale / 2, center + [scale[0] / 2, -scale[1] / 2], center + scale / 2], np.float32)
    dst = np.array([[0, 0], [W, 0], [W, H]], np.float32)
    crop = cv2.warpAffine(rgb, cv2.getAffineTransform(src, dst), (W, H), flags=cv2.INTER_LINEAR)
    return ((crop.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)[None]


def decode_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray, size: tuple[int, int], center: np.ndarray,
                 scale: np.ndarray) -> np.ndarray:
    """(K, Wx), (K, Hy) SimCC logits -> (K, 3) image x, y, score."""
    W, H = size
    ratio_x, ratio_y = simcc_x.shape[-1] / W, simcc_y.shape[-1] / H
    x = simcc_x.argmax(-1) / ratio_x
    y = simcc_y.argmax(-1) / ratio_y
    score = np.minimum(simcc_x.max(-1), simcc_y.max(-1))
    xy = np.stack([x, y], -1) / np.array([W, H], np.float32) * scale + center - scale / 2
    return np.concatenate([xy, np.clip(score, 0.0, 1.0)[:, None]], -1).astype(np.float32)


class RtmwOnnx(VideoBackend):
    name = "rtmw"

    def __init__(self, cfg: dict, min_decoded_fraction: float, min_frames: int = MIN_FRAMES):
        super().__init__(min_decoded_fraction, min_frames)
        model = cfg["model"]
        if not model:
            raise ValueError("pose.rtmw.model: set it to the path of an RTMW/DWPose whole-body .onnx file")
        if not Path(model).is_file():
            raise FileNotFoundError(f"{model}: pose.rtmw.model does not exist (download an RTMW or DWPose "
                                    f"whole-body ONNX model there; nothing is fetched at run time)")
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        shape = self.session.get_inputs()[0].shape        # (1, 3, H, W)
        if len(shape) != 4 or not all(isinstance(d, int) for d in shape[2:]):
            raise ValueError(f"{model}: expected a fixed (1, 3, H, W) input, got {shape}")
        outputs = self.session.get_outputs()
        if len(outputs) != 2:
            raise ValueError(f"{model}: expected two outputs (simcc_x, simcc_y), got {len(outputs)}")
        self.size = (shape[3], shape[2])
        self.cfg = cfg
        self.version = f"onnxruntime {ort.__version__} {Path(model).name} sha256:{file_digest(model)[:16]}"
        if cfg["box"] == "person":
            from .mediapipe_holistic import mediapipe_version
            self.version += f"; person box from mediapipe {mediapipe_version()} pose"
        self.boxes: list[Box] = []        # the last video's box per frame (what the hand-size report reads)
        self._planned: list[Box] | None = None

    @property
    def aspect(self) -> float:
        return self.size[0] / self.size[1]

    def __call__(self, row: dict, progress=None) -> np.ndarray:
        self.boxes, self._planned = [], None
        if self.cfg["box"] == "person":
            self._planned = person_boxes(*body_points(row["video"]), self.cfg, self.aspect)
        return super().__call__(row, progress)

    def box(self, rgb: np.ndarray) -> Box:
        """This frame's box: the planned person box, or the whole frame."""
        t = len(self.boxes)
        if self._planned is not None and t < len(self._planned):
            return self._planned[t]
        h, w = rgb.shape[:2]
        return frame_box(w, h, self.aspect, self.cfg["box_padding"])

    def estimate(self, rgb: np.ndarray) -> np.ndarray:
        center, scale = self.box(rgb)
        self.boxes.append((center, scale))
        name = self.session.get_inputs()[0].name
        simcc_x, simcc_y = self.session.run(None, {name: crop_to_input(rgb, center, scale, self.size)})
        points = decode_simcc(simcc_x[0], simcc_y[0], self.size, center, scale)
        if points.shape[0] != 133:
            raise RuntimeError(f"pose.rtmw.model gives {points.shape[0]} points, not the 133 whole-body ones")
        points[points[:, 2] < self.cfg["min_score"]] = 0.0
        return points
