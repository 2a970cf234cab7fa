"""HRNet-w48 whole-body through mmpose, as in the paper: used when mmpose is importable
and `pose.mmpose.config` and `.checkpoint` name local files. The person box is the whole
frame (one signer per isolated-sign video)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from ...io import file_digest
from ..video import MIN_FRAMES
from .video_backend import VideoBackend

INSTALL = ("pose.backend mmpose needs mmpose and its OpenMMLab stack, which this project does not pin: "
           "pip install -U openmim && mim install mmengine 'mmcv>=2.0.1' 'mmpose>=1.1.0' "
           "(or use pose.backend mediapipe, or rtmw with a local ONNX model)")


class MmposeTopDown(VideoBackend):
    name = "mmpose"

    def __init__(self, cfg: dict, min_decoded_fraction: float, min_frames: int = MIN_FRAMES):
        super().__init__(min_decoded_fraction, min_frames)
        if importlib.util.find_spec("mmpose") is None:
            raise RuntimeError(INSTALL)
        for key in ("config", "checkpoint"):
            if not cfg[key] or not Path(cfg[key]).is_file():
                raise FileNotFoundError(f"pose.mmpose.{key}: {cfg[key]!r} is not a file (the HRNet-w48 whole-body "
                                        f"config and checkpoint are local files; nothing is downloaded)")
        import mmpose
        from mmpose.apis import init_model

        device = cfg["device"]
        if device == "auto":
            import torch
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = init_model(cfg["config"], cfg["checkpoint"], device=device)
        self.cfg = cfg
        self.version = f"mmpose {mmpose.__version__} {Path(cfg['checkpoint']).name} " \
                       f"sha256:{file_digest(cfg['checkpoint'])[:16]}"

    def estimate(self, rgb: np.ndarray) -> np.ndarray:
        from mmpose.apis import inference_topdown

        h, w = rgb.shape[:2]
        bgr = np.ascontiguousarray(rgb[..., ::-1])        # mmpose reads BGR like cv2
        inst = inference_topdown(self.model, bgr, bboxes=np.array([[0, 0, w, h]], np.float32))[0].pred_instances
        points = np.concatenate([inst.keypoints[0], inst.keypoint_scores[0][:, None]], 1).astype(np.float32)
        if points.shape[0] != 133:
            raise RuntimeError(f"pose.mmpose.config gives {points.shape[0]} points, not the 133 whole-body ones")
        points[points[:, 2] < self.cfg["min_score"]] = 0.0
        return points
