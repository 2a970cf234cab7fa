"""HRNet-w48 whole-body through mmpose, as in the paper: used when mmpose is importable
and `pose.mmpose.config` and `.checkpoint` name local files. The person box is the whole
frame (one signer per isolated-sign video).

Beside the torch this project pins, two of mmpose 1.3's imports cannot load, and the top-down
heatmap path never calls what they bring (`import_mmpose_apis` stands in for them, saying so):
- `mmcv.ops` needs mmcv's compiled ops; with mmcv-lite (a pure wheel) there are none, and
  mmpose imports `MultiScaleDeformableAttention` from it at module level (the ED-Pose head).
- `torchvision`, imported by the SimCC visualiser only; PyPI's torchvision wheels are CUDA
  builds that do not load beside torch's CPU build ('operator torchvision::nms does not exist').
How to install the stack (the optional test tier does it): envs/mmpose-tier.sh, docs/pose.md.
"""
from __future__ import annotations

import importlib.util
import logging
import sys
import types
from pathlib import Path

import numpy as np

from ...io import file_digest
from ..video import MIN_FRAMES
from .video_backend import VideoBackend

log = logging.getLogger(__name__)

INSTALL = ("pose.backend mmpose needs mmpose and its OpenMMLab stack, which this project does not pin: "
           "bash envs/mmpose-tier.sh <venv> builds it beside this project's torch (docs/pose.md) "
           "(or use pose.backend mediapipe, or rtmw with a local ONNX model)")


def _found(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# modules mmpose imports that the top-down heatmap path never uses -> why one may not load here,
# and the test that it cannot
UNUSED_IMPORTS = {"mmcv.ops": ("mmcv has no compiled ops (mmcv-lite)",
                               lambda: _found("mmcv") and not _found("mmcv._ext")),
                  "mmpose.visualization.simcc_vis": ("torchvision is not installed",
                                                     lambda: not _found("torchvision"))}


def _stand_in(module: str, why: str) -> types.ModuleType:
    """A module whose every attribute is a class that raises, naming itself, if anything uses it."""
    def missing(name: str):
        if name.startswith("__"):
            raise AttributeError(name)

        class Unavailable:
            def __init__(self, *args, **kwargs):
                raise RuntimeError(f"{module}.{name} is not available here ({why}); the mmpose backend's "
                                   f"top-down heatmap models do not use it")
        Unavailable.__name__ = name
        return Unavailable
    stand_in = types.ModuleType(module)
    stand_in.__getattr__ = missing
    return stand_in


def import_mmpose_apis():
    """``mmpose.apis.init_model, inference_topdown``, with a stand-in for each of UNUSED_IMPORTS
    that cannot load here (logged)."""
    for module, (why, cannot_load) in UNUSED_IMPORTS.items():
        if module not in sys.modules and cannot_load():
            sys.modules[module] = _stand_in(module, why)
            log.info("mmpose: a placeholder stands in for %s (%s; unused by top-down heatmap models)", module, why)
    try:
        from mmpose.apis import inference_topdown, init_model
    except RuntimeError as exc:
        if "torchvision" not in str(exc):
            raise
        import torch
        raise RuntimeError(f"torchvision is installed but does not load beside torch {torch.__version__} ({exc}); "
                           f"`pip uninstall torchvision`: the mmpose backend does not need it") from exc
    return init_model, inference_topdown


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

        init_model, self._inference_topdown = import_mmpose_apis()
        device = cfg["device"]
        if device == "auto":
            import torch
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = init_model(cfg["config"], cfg["checkpoint"], device=device)
        self.cfg = cfg
        self.version = f"mmpose {mmpose.__version__} {Path(cfg['checkpoint']).name} " \
                       f"sha256:{file_digest(cfg['checkpoint'])[:16]}"

    def estimate(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        bgr = np.ascontiguousarray(rgb[..., ::-1])        # mmpose reads BGR like cv2
        inst = self._inference_topdown(self.model, bgr, bboxes=np.array([[0, 0, w, h]], np.float32))[0].pred_instances
        points = np.concatenate([inst.keypoints[0], inst.keypoint_scores[0][:, None]], 1).astype(np.float32)
        if points.shape[0] != 133:
            raise RuntimeError(f"pose.mmpose.config gives {points.shape[0]} points, not the 133 whole-body ones")
        points[points[:, 2] < self.cfg["min_score"]] = 0.0
        return points
