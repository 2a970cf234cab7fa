"""pose.backend -> a backend object (see the package docstring for the interface).

One table names each backend beside what it is: the params schema's enum, the CLI, the
params keys the pose stage depends on (stage_params.py) and the run bundle read it here.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...registry import load


@dataclass(frozen=True)
class BackendEntry:
    target: str                 # "module:class", imported on first use (pipeline/registry.py;
                                # a plain string: stage_code.py reads it as an import)
    settings: str | None        # the pose.* section holding its settings (None: it has none)
    reads_video: bool           # the others render the demo corpus or import keypoint files


REGISTRY = {
    "synthetic": BackendEntry("pipeline.pose.backends.synthetic:SyntheticRenderer", None, False),
    "mediapipe": BackendEntry("pipeline.pose.backends.mediapipe_holistic:MediaPipeHolistic", "mediapipe", True),
    "rtmw": BackendEntry("pipeline.pose.backends.rtmw:RtmwOnnx", "rtmw", True),
    "mmpose": BackendEntry("pipeline.pose.backends.mmpose_backend:MmposeTopDown", "mmpose", True),
    "sam_slr": BackendEntry("pipeline.pose.backends.importers:SamSlrNpy", "importer", False),
    "pose_format": BackendEntry("pipeline.pose.backends.importers:PoseFormatFile", "importer", False),
    "mediapipe_parquet": BackendEntry("pipeline.pose.backends.mediapipe_files:CompetitionParquet", "importer", False),
    "mediapipe_npy": BackendEntry("pipeline.pose.backends.mediapipe_files:FlatVectors", "importer", False),
    "openpose": BackendEntry("pipeline.pose.backends.openpose:OpenPoseJson", "importer", False),
}
BACKENDS = tuple(REGISTRY)
READS_VIDEO = tuple(name for name, entry in REGISTRY.items() if entry.reads_video)
SETTINGS = {name: entry.settings for name, entry in REGISTRY.items() if entry.settings}
SETTINGS_SECTIONS = tuple(dict.fromkeys(SETTINGS.values()))     # each pose.* settings section once


def make_backend(cfg: dict):
    """The backend ``cfg["backend"]`` names, configured from ``cfg`` (the pose section).
    Video backends also get the stream limits they refuse a video by."""
    name = cfg["backend"]
    if name not in REGISTRY:
        raise ValueError(f"pose.backend {name!r}: not one of {', '.join(BACKENDS)}")
    entry = REGISTRY[name]
    backend = load(entry.target)
    if entry.settings is None:
        return backend()
    if entry.reads_video:
        return backend(cfg[entry.settings], cfg["min_decoded_fraction"], cfg["min_frames"])
    return backend(cfg[entry.settings])
