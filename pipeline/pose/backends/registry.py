"""pose.backend -> a backend object (see the package docstring for the interface)."""
from __future__ import annotations

from pathlib import Path

BACKENDS = ("synthetic", "mediapipe", "rtmw", "mmpose", "sam_slr", "pose_format")
# the backends that read a video (the others render the demo corpus or import keypoint files)
READS_VIDEO = ("mediapipe", "rtmw", "mmpose")
# the pose.* section holding each backend's settings
SETTINGS = {"mediapipe": "mediapipe", "rtmw": "rtmw", "mmpose": "mmpose", "sam_slr": "importer",
            "pose_format": "importer"}


def make_backend(cfg: dict, corpus_path: Path | None):
    name = cfg["backend"]
    stream_limits = (cfg["min_decoded_fraction"], cfg["min_frames"])    # what a video backend refuses
    if name == "synthetic":
        from .synthetic import SyntheticRenderer
        return SyntheticRenderer(corpus_path)
    if name == "mediapipe":
        from .mediapipe_holistic import MediaPipeHolistic
        return MediaPipeHolistic(cfg["mediapipe"], *stream_limits)
    if name == "rtmw":
        from .rtmw import RtmwOnnx
        return RtmwOnnx(cfg["rtmw"], *stream_limits)
    if name == "mmpose":
        from .mmpose_backend import MmposeTopDown
        return MmposeTopDown(cfg["mmpose"], *stream_limits)
    if name == "sam_slr":
        from .importers import SamSlrNpy
        return SamSlrNpy(cfg["importer"])
    if name == "pose_format":
        from .importers import PoseFormatFile
        return PoseFormatFile(cfg["importer"])
    raise ValueError(f"pose.backend {name!r}: not one of {', '.join(BACKENDS)}")
