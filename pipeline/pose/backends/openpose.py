"""Importer for OpenPose's per-frame JSON (``--write_json``): BODY_25 body, 70-point face,
21-point hands, onto the 133 layout.

A clip is the frame files ``<clip>_<frame number>_keypoints.json``, either in a folder per clip
(``<dir>/<clip>/``) or side by side in ``pose.importer.dir`` (what one OpenPose run over a folder
of videos writes); frames go in the order of their numbers. Each file holds ``people``, each with
``pose_keypoints_2d`` (25 x (x px, y px, confidence)), ``face_keypoints_2d`` (70 x 3),
``hand_left_keypoints_2d`` and ``hand_right_keypoints_2d`` (21 x 3); OpenPose writes (0, 0, 0)
for a point it did not find, and its left and right are the person's, as in COCO-WholeBody.

- Body: each COCO point from the BODY_25 point of the same name; BODY_25's neck and mid-hip
  have no COCO counterpart and are dropped.
- Feet: big toe, small toe, heel from BODY_25's points 19-24.
- Face: the 68 iBUG points are OpenPose's face points 0-67 (68 and 69, the pupils, are dropped).
- Hands: the same 21-point order in both.
- Several people in a frame (a bystander): the one with the largest summed body confidence
  is the signer; a frame with nobody is a frame with no detection.
Scores are OpenPose's confidences.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from ..holistic_map import FACE_BASE, LEFT_HAND_BASE, RIGHT_HAND_BASE
from ..video import VideoError
from .importers import Importer, numbered

# COCO-WholeBody body/feet index -> BODY_25 index
BODY25_TO_COCO = {
    0: 0,     # nose
    1: 16,    # left eye
    2: 15,    # right eye
    3: 18,    # left ear
    4: 17,    # right ear
    5: 5,     # left shoulder
    6: 2,     # right shoulder
    7: 6,     # left elbow
    8: 3,     # right elbow
    9: 7,     # left wrist
    10: 4,    # right wrist
    11: 12,   # left hip
    12: 9,    # right hip
    13: 13,   # left knee
    14: 10,   # right knee
    15: 14,   # left ankle
    16: 11,   # right ankle
    17: 19,   # left big toe
    18: 20,   # left small toe
    19: 21,   # left heel
    20: 22,   # right big toe
    21: 23,   # right small toe
    22: 24,   # right heel
}
_COCO = list(BODY25_TO_COCO)
_BODY25 = list(BODY25_TO_COCO.values())
FRAME_FILE = r"(?P<clip>.+)_(?P<frame>\d+)_keypoints\.json"     # what --write_json names a frame's file
SIZES = {"pose_keypoints_2d": 25, "face_keypoints_2d": 70, "hand_left_keypoints_2d": 21,
         "hand_right_keypoints_2d": 21}


def person_to_wholebody(person: dict) -> np.ndarray:
    """One OpenPose person record -> (133, 3) (x px, y px, score); absent arrays are not found."""
    arrays = {}
    for key, n in SIZES.items():
        values = np.asarray(person.get(key) or np.zeros(n * 3), np.float32)
        if values.shape != (n * 3,):
            raise ValueError(f"{key} has {values.size} values, expected {n * 3}")
        arrays[key] = values.reshape(n, 3)
    out = np.zeros((133, 3), np.float32)
    out[_COCO] = arrays["pose_keypoints_2d"][_BODY25]
    out[FACE_BASE:FACE_BASE + 68] = arrays["face_keypoints_2d"][:68]
    out[LEFT_HAND_BASE:LEFT_HAND_BASE + 21] = arrays["hand_left_keypoints_2d"]
    out[RIGHT_HAND_BASE:RIGHT_HAND_BASE + 21] = arrays["hand_right_keypoints_2d"]
    out[out[:, 2] <= 0] = 0.0
    return out


def frame_to_wholebody(record: dict) -> np.ndarray:
    """One frame file's content -> the signer's (133, 3): the person with the most body confidence."""
    people = record.get("people")
    if not isinstance(people, list):
        raise ValueError("no 'people' list")
    best = np.zeros((133, 3), np.float32)
    for person in people:
        candidate = person_to_wholebody(person)
        if candidate[:23, 2].sum() > best[:23, 2].sum():
            best = candidate
    return best


class OpenPoseJson(Importer):
    name, what = "openpose", "OpenPose <clip>_<frame>_keypoints.json files"
    version = "openpose json importer 1"

    def __init__(self, cfg: dict):
        super().__init__(cfg)
        self._side_by_side: dict[str, list[Path]] | None = None

    def candidates(self, stem: str) -> list[Path]:
        return [self.dir / stem]

    def list_files(self, path: Path) -> list[Path]:
        if path.is_dir():
            return numbered(path.iterdir(), FRAME_FILE)
        return self.side_by_side().get(path.name, [])

    def side_by_side(self) -> dict[str, list[Path]]:
        """The frame files lying directly in the folder, by clip: one listing for all clips."""
        if self._side_by_side is None:
            clips: dict[str, list[Path]] = {}
            for path in self.dir.iterdir():
                match = re.fullmatch(FRAME_FILE, path.name)
                if match:
                    clips.setdefault(match.group("clip"), []).append(path)
            self._side_by_side = {clip: numbered(files, FRAME_FILE) for clip, files in clips.items()}
        return self._side_by_side

    def load(self, path: Path) -> np.ndarray:
        frames = []
        for file in self.files(path):
            try:
                frames.append(frame_to_wholebody(json.loads(file.read_text(encoding="utf-8"))))
            except (ValueError, TypeError, AttributeError, UnicodeDecodeError) as exc:
                raise VideoError(f"{file.name}: not an OpenPose keypoints file: {exc}") from exc
        return np.stack(frames)
