"""`gspmc overlay`: the drawing (points fade with their score, bones join their ends), the
real fixture video -> a playable mp4 with one frame per decoded frame, and bad inputs that
fail with the file and the reason and leave nothing behind."""
import subprocess

import numpy as np
import pytest
from conftest import BIN, FIXTURE, needs_fixture, tool_env

from pipeline.cli import main
from pipeline.data.wholebody import get_preset
from pipeline.infer.overlay import PART_COLOURS, draw_pose, preset_bones

GREY = 100


def _frame() -> np.ndarray:
    return np.full((120, 160, 3), GREY, np.uint8)


def _points(**placed) -> np.ndarray:
    """(133, 3) all undetected but the given index -> (x, y, score)."""
    pts = np.zeros((133, 3), np.float32)
    for idx, xys in placed.items():
        pts[int(idx.lstrip("p"))] = xys
    return pts


def _change(a: np.ndarray, b: np.ndarray, x: int, y: int) -> int:
    return int(np.abs(a[y, x].astype(int) - b[y, x].astype(int)).max())


def test_a_point_shows_with_its_score_and_an_undetected_one_not():
    frame = _frame()
    pts = _points(p0=(40, 30, 1.0), p1=(120, 90, 0.0), p2=(80, 30, 0.3), p3=(120, 30, 0.03))
    out = draw_pose(frame, pts, [], min_score=0.05)
    assert (frame == GREY).all()                              # the input is left as it is
    assert _change(out, frame, 40, 30) > 50                   # score 1: the part's colour
    assert tuple(out[30, 40]) == PART_COLOURS["body"]
    assert 0 < _change(out, frame, 80, 30) < _change(out, frame, 40, 30)   # score 0.3: faded
    assert _change(out, frame, 120, 90) == 0                  # score 0: not drawn
    assert _change(out, frame, 120, 30) == 0                  # under min_score: not drawn
    assert (out[:, :20] == GREY).all() and (out[60:, :100] == GREY).all()   # nothing elsewhere
    # nothing to draw: the frame comes back unchanged
    assert (draw_pose(frame, _points(), [(5, 6)]) == frame).all()


def test_a_bone_joins_its_ends_and_parts_have_their_colours():
    frame = _frame()
    pts = _points(p91=(20, 100, 1.0), p112=(140, 100, 1.0))    # left and right hand roots
    out = draw_pose(frame, pts, [(91, 112)], radius=2, thickness=2)
    assert all(_change(out, frame, x, 100) > 50 for x in range(25, 136, 10))   # along the line
    assert _change(out, frame, 80, 60) == 0 and _change(out, frame, 80, 110) == 0
    assert tuple(out[100, 20]) == PART_COLOURS["left_hand"] and tuple(out[100, 140]) == PART_COLOURS["right_hand"]
    # a bone whose end is below min_score is not drawn; its other end still is
    pts[112, 2] = 0.01
    out = draw_pose(frame, pts, [(91, 112)], min_score=0.05, radius=2, thickness=2)
    assert _change(out, frame, 80, 100) == 0 and _change(out, frame, 20, 100) > 50


def test_preset_bones_are_whole_body_indices_of_the_preset_tree():
    preset = get_preset("gspmc87")
    bones = preset_bones(preset)
    assert len(bones) == preset.num_points - 1                # a tree
    assert {i for bone in bones for i in bone} == set(preset.indices)
    assert (9, 7) in bones and (7, 5) in bones               # left wrist - elbow - shoulder


def _decoded(path) -> tuple[int, tuple[int, int]]:
    import cv2
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), path
    n, size = 0, None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        n, size = n + 1, (frame.shape[1], frame.shape[0])
    cap.release()
    return n, size


@pytest.mark.slow
@needs_fixture
def test_overlay_of_the_fixture_is_a_video_with_every_frame(tmp_path):
    out = tmp_path / "views" / "overlay.mp4"
    # the console script, from a folder without params.yaml: overlay needs none
    res = subprocess.run([str(BIN / "gspmc"), "overlay", str(FIXTURE), "-o", str(out)], cwd=tmp_path,
                         env=tool_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    frames, size = _decoded(FIXTURE)
    assert frames == 58
    assert _decoded(out) == (frames, size)
    assert [p.name for p in out.parent.iterdir()] == ["overlay.mp4"]    # no temporary left
    assert f"{frames} frames" in res.stderr


@pytest.mark.parametrize("what", ["missing", "not_a_video"])
def test_a_bad_input_names_the_file_and_leaves_no_output(tmp_path, caplog, what):
    video = tmp_path / "clip.mp4"
    if what == "not_a_video":
        video.write_text("this is text, not a video\n")
    out = tmp_path / "out" / "overlay.mp4"
    assert main(["overlay", str(video), "-o", str(out)]) == 2
    message = " ".join(r.getMessage() for r in caplog.records if r.levelname == "ERROR")
    assert str(video) in message
    assert ("file not found" if what == "missing" else "cannot be opened as a video") in message
    assert not out.exists() and not (out.parent.exists() and any(out.parent.iterdir()))


def test_the_output_must_be_an_mp4(tmp_path, caplog):
    assert main(["overlay", str(FIXTURE), "-o", str(tmp_path / "overlay.avi")]) == 2
    assert "mp4" in caplog.text and not any(tmp_path.iterdir())
