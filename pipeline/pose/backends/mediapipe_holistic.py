"""The default backend: MediaPipe 0.10.14 legacy Holistic, model_complexity 1.

0.10.14 is the last release whose wheel ships the Holistic models; complexity 0 and 2
would download theirs at run time, so only 1 is allowed (the schema enforces it)."""
from __future__ import annotations

import contextlib
import warnings

import numpy as np

from ..holistic_map import holistic_to_wholebody
from ..video import MIN_FRAMES
from .video_backend import VideoBackend


def _landmarks(lms, with_visibility: bool = False) -> np.ndarray | None:
    if lms is None:
        return None
    if with_visibility:
        return np.array([(p.x, p.y, p.visibility) for p in lms.landmark], np.float32)
    return np.array([(p.x, p.y) for p in lms.landmark], np.float32)


def holistic_parts(result) -> tuple[np.ndarray | None, ...]:
    """One Holistic result as normalised arrays: pose (33, 3: x, y, visibility), face (468, 2),
    left hand, right hand (21, 2); None for a part not found."""
    return (_landmarks(result.pose_landmarks, with_visibility=True), _landmarks(result.face_landmarks),
            _landmarks(result.left_hand_landmarks), _landmarks(result.right_hand_landmarks))


def mediapipe_version() -> str:
    try:
        import mediapipe
    except ImportError as exc:  # a broken install, since it is a pinned dependency
        raise RuntimeError("pose.backend mediapipe needs `pip install mediapipe==0.10.14`") from exc
    return mediapipe.__version__


@contextlib.contextmanager
def holistic_graph(cfg: dict):
    """A MediaPipe Holistic graph with the pose.mediapipe settings (what the backend and
    `benchmark pose`'s bare timing both run)."""
    from mediapipe.python.solutions.holistic import Holistic

    with warnings.catch_warnings(), Holistic(
            static_image_mode=False, model_complexity=cfg["model_complexity"], smooth_landmarks=True,
            refine_face_landmarks=False, min_detection_confidence=cfg["min_detection_confidence"],
            min_tracking_confidence=cfg["min_tracking_confidence"]) as holistic:
        warnings.simplefilter("ignore", UserWarning)   # protobuf deprecation noise from inside mediapipe
        yield holistic


class MediaPipeHolistic(VideoBackend):
    name = "mediapipe"

    def __init__(self, cfg: dict, min_decoded_fraction: float, min_frames: int = MIN_FRAMES):
        super().__init__(min_decoded_fraction, min_frames)
        self.version = f"mediapipe {mediapipe_version()} holistic complexity {cfg['model_complexity']}"
        self.cfg = cfg

    @contextlib.contextmanager
    def video_session(self):
        # a fresh graph per video: Holistic tracks across frames and must not carry a person over
        with holistic_graph(self.cfg) as holistic:

            def estimate(rgb: np.ndarray) -> np.ndarray:
                h, w = rgb.shape[:2]
                return holistic_to_wholebody(*holistic_parts(holistic.process(rgb)), w, h)
            yield estimate
