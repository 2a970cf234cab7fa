"""The pose stage: the MediaPipe -> COCO-WholeBody mapping, the real-video fixture, the
quarantine of bad videos, and resume after kill -9."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import FIXTURE, ROOT, make_workdir, needs_fixture, tiny_params, tool_env

from pipeline.data.shards import read_shard, read_shard_meta
from pipeline.pose.holistic_map import MESH_TO_FACE68, POSE_TO_COCO_BODY, holistic_to_wholebody

# COCO-WholeBody indices used below
NOSE, L_EYE, R_EYE, L_SH, R_SH, L_WRIST, R_WRIST = 0, 1, 2, 5, 6, 9, 10
FACE, LH, RH = 23, 91, 112


def test_holistic_mapping_puts_each_landmark_where_the_layout_says():
    pose = np.zeros((33, 3), np.float32)
    pose[:, 0] = np.arange(33) / 100          # x encodes the MediaPipe index
    pose[:, 2] = 0.5
    face = np.stack([np.arange(468) / 1000, np.zeros(468)], 1).astype(np.float32)
    right = np.stack([np.arange(21) / 100, np.ones(21)], 1).astype(np.float32)
    out = holistic_to_wholebody(pose, face, None, right, width=100, height=10)
    for coco, mp in POSE_TO_COCO_BODY.items():
        assert out[coco, 0] == pytest.approx(mp) and out[coco, 2] == 0.5
    assert out[18, 2] == 0 and out[21, 2] == 0                     # small toes: no counterpart
    np.testing.assert_allclose(out[FACE:FACE + 68, 0], np.array(MESH_TO_FACE68) / 10, rtol=1e-6)
    np.testing.assert_allclose(out[RH:RH + 21, 0], np.arange(21))  # same 21-point order
    assert (out[RH:RH + 21, 1] == 10).all() and (out[RH:RH + 21, 2] == 1).all()
    assert (out[LH:LH + 21] == 0).all()                            # undetected: score 0
    assert len(set(MESH_TO_FACE68)) == 68 and max(MESH_TO_FACE68) < 468


@pytest.fixture(scope="module")
def fixture_pose():
    from pipeline.pose.backends.mediapipe_holistic import MediaPipeHolistic
    backend = MediaPipeHolistic({"model_complexity": 1, "min_detection_confidence": 0.5,
                                 "min_tracking_confidence": 0.5}, 0.9)
    return backend({"video": str(FIXTURE)})


@pytest.mark.slow
@needs_fixture
def test_mediapipe_finds_the_signer_in_the_fixture(fixture_pose):
    x = fixture_pose
    assert x.shape == (58, 133, 3)
    body = (x[:, [NOSE, L_SH, R_SH], 2] > 0.5).all(1).sum()
    face = (x[:, FACE:FACE + 68, 2] > 0).all(1).sum()
    hands = ((x[:, LH:LH + 21, 2] > 0).all(1) | (x[:, RH:RH + 21, 2] > 0).all(1)).sum()
    assert body == 58 and face == 58 and hands >= 15, (body, face, hands)


@pytest.mark.slow
@needs_fixture
def test_fixture_layout_is_consistent(fixture_pose):
    x = fixture_pose
    width = np.linalg.norm(x[:, L_SH, :2] - x[:, R_SH, :2], axis=1)
    # the signer faces the camera: their right shoulder is on the image's left
    assert (x[:, R_SH, 0] < x[:, L_SH, 0]).all()
    for base, same, other in ((RH, R_WRIST, L_WRIST), (LH, L_WRIST, R_WRIST)):
        seen = (x[:, base:base + 21, 2] > 0).all(1)
        root = x[seen, base, :2]
        near = np.linalg.norm(root - x[seen, same, :2], axis=1) / width[seen]
        far = np.linalg.norm(root - x[seen, other, :2], axis=1) / width[seen]
        assert (near < 0.5).all() and (near < far).all(), (base, near.max())
    # face points: inside the head (near the nose, above the shoulders); the mesh's eyes sit
    # on the pose's eyes of the same side
    face = x[:, FACE:FACE + 68, :2]
    assert (np.linalg.norm(face - x[:, None, NOSE, :2], axis=2) < 0.8 * width[:, None]).all()
    assert (face[..., 1] < np.minimum(x[:, L_SH, 1], x[:, R_SH, 1])[:, None]).all()
    right_eye, left_eye = face[:, 36:42].mean(1), face[:, 42:48].mean(1)
    assert (np.linalg.norm(right_eye - x[:, R_EYE, :2], axis=1) < 0.15 * width).all()
    assert (np.linalg.norm(left_eye - x[:, L_EYE, :2], axis=1) < 0.15 * width).all()


def _run(workdir: Path, *args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=workdir, env=tool_env(),
                          capture_output=True, text=True, timeout=timeout)


def _write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> None:
    import cv2
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()


def _video_workdir(tmp_path: Path, on_error: str) -> Path:
    """A project whose manifest lists the fixture and four broken videos."""
    import cv2
    params = tiny_params()
    params["dataset"] = "byo"                   # video backends are for video datasets
    params["pose"].update(backend="mediapipe", shard_size=2, on_error=on_error)
    wd = make_workdir(tmp_path, params)
    vids = wd / "videos"
    vids.mkdir()
    shutil.copy(FIXTURE, vids / "good.mp4")
    data = FIXTURE.read_bytes()
    (vids / "truncated.mp4").write_bytes(data[:len(data) // 2])        # an interrupted download
    cv2.VideoWriter(str(vids / "zero.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 25, (64, 64)).release()
    scene = []
    for i in range(12):                                              # a room with nobody in it
        f = np.full((120, 160, 3), 90 + i, np.uint8)
        f[40:80, 60:100] = (30, 140, 200)
        scene.append(f)
    _write_video(vids / "empty_room.mp4", scene)
    names = ["good", "truncated", "zero", "empty_room", "missing"]
    manifest = pd.DataFrame({"sample_id": names, "split": "train", "signer": 0, "label": 0, "gloss": "X",
                             "video": [f"videos/{n}.mp4" for n in names], "n_frames": 0, "fps": 25.0})
    (wd / "results/demo").mkdir(parents=True)
    manifest.to_parquet(wd / "results/demo/manifest.parquet", index=False)
    return wd


POSE_ARGS = ["pose", "--manifest", "results/demo/manifest.parquet", "--out", "results/demo/pose"]


@pytest.mark.slow
@needs_fixture
def test_bad_videos_are_quarantined_and_the_rest_finish(tmp_path):
    wd = _video_workdir(tmp_path, "quarantine")
    res = _run(wd, *POSE_ARGS)
    assert res.returncode == 0, res.stderr[-3000:]
    quarantine = pd.read_csv(wd / "results/demo/pose/quarantine.csv").set_index("sample_id")["reason"].to_dict()
    assert set(quarantine) == {"truncated", "zero", "empty_room", "missing"}
    assert "truncated: decoded" in quarantine["truncated"]
    assert "no person detected" in quarantine["empty_room"]
    assert "not found" in quarantine["missing"]
    assert "cannot be opened" in quarantine["zero"] or "no frames" in quarantine["zero"]
    index = json.loads((wd / "results/demo/pose/index.json").read_text())
    assert index["shards"] == [f"shard-0000{k}.parquet" for k in range(3)] and index["quarantined"] == 4
    samples = {}
    for name in index["shards"]:
        part, meta = read_shard(wd / "results/demo/pose" / name)
        assert meta["backend"] == "mediapipe" and meta["backend_version"].startswith("mediapipe 0.10.14")
        samples.update(part)
    assert list(samples) == ["good"] and samples["good"].shape == (58, 133, 3)
    # downstream: keypoints carries the list, and training leaves those samples out
    assert _run(wd, "keypoints", "--pose", "results/demo/pose", "--out", "results/demo/keypoints").returncode == 0
    from pipeline.train.data import read_quarantine
    assert read_quarantine(wd / "results/demo/keypoints") == set(quarantine)


@pytest.mark.slow
@needs_fixture
def test_on_error_fail_fails_the_stage_naming_every_video(tmp_path):
    wd = _video_workdir(tmp_path, "fail")
    res = _run(wd, *POSE_ARGS)
    assert res.returncode == 2
    for name in ("truncated", "zero", "empty_room", "missing"):
        assert f"videos/{name}.mp4" in res.stderr
    assert not (wd / "results/demo/pose/index.json").exists()
    # the failures are results too: back in quarantine mode nothing is decoded again
    params = yaml.safe_load((wd / "params.yaml").read_text())
    params["pose"]["on_error"] = "quarantine"
    (wd / "params.yaml").write_text(yaml.safe_dump(params))
    res = _run(wd, *POSE_ARGS)
    assert res.returncode == 0 and res.stderr.count("up to date, skipped") == 3, res.stderr[-2000:]
    assert len(pd.read_csv(wd / "results/demo/pose/quarantine.csv")) == 4


# --- streams that are not a colour video of a person (issue 11): quarantined with a reason


def _scene(n: int) -> list[np.ndarray]:
    """n BGR frames of a coloured scene: an orange square moving over a teal wall."""
    frames = []
    for t in range(n):
        f = np.full((120, 160, 3), (120, 110, 20), np.uint8)
        f[40:80, 20 + 5 * t:60 + 5 * t] = (30, 140, 230)
        frames.append(f)
    return frames


def _still_image(suffix: str):
    def write(path: Path) -> None:
        import cv2
        image = path.with_name(f"image{suffix}")
        cv2.imwrite(str(image), _scene(1)[0])
        image.rename(path)                   # a photo renamed .mp4
    return write


def _grey_video(path: Path) -> None:
    """Written as one channel: OpenCV decodes it to three equal ones."""
    import cv2
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (160, 120), False)
    for f in _scene(12):
        writer.write(cv2.cvtColor(f, cv2.COLOR_BGR2GRAY))
    writer.release()


def _depth_video(path: Path) -> None:
    """A 16-bit single-channel stream (a depth camera's), lossless FFV1."""
    import cv2
    writer = cv2.VideoWriter(str(path), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"FFV1"), 25.0, (160, 120),
                             [cv2.VIDEOWRITER_PROP_DEPTH, cv2.CV_16U, cv2.VIDEOWRITER_PROP_IS_COLOR, 0])
    for t in range(12):
        writer.write(np.full((120, 160), 500 + 40 * t, np.uint16))
    writer.release()


# sample -> (file name, writer, what its quarantine reason says)
NOT_COLOUR_VIDEOS = {
    "still_png": ("still_png.mp4", _still_image(".png"), "a single frame (a still image, not a video)"),
    "still_jpg": ("still_jpg.mp4", _still_image(".jpg"), "a single frame (a still image, not a video)"),
    "one_frame": ("one_frame.mp4", lambda p: _write_video(p, _scene(1)), "a single frame"),
    "short": ("short.mp4", lambda p: _write_video(p, _scene(5)), "too short: only 5 frames; pose.min_frames is 8"),
    "grey": ("grey.mp4", _grey_video, "not a colour video: the three channels are equal in all 12 frames"),
    "equal_channels": ("equal_channels.mp4",
                       lambda p: _write_video(p, [np.repeat(f[..., 1:2], 3, 2) for f in _scene(12)]),
                       "not a colour video"),
    "depth16": ("depth16.mkv", _depth_video, "not a colour video"),
}


def _person_everywhere(min_frames: int = 8):
    """A video backend that finds a person in every frame: only the stream checks can refuse."""
    from pipeline.pose.backends.video_backend import VideoBackend

    class PersonEverywhere(VideoBackend):
        def estimate(self, rgb: np.ndarray) -> np.ndarray:
            return np.ones((133, 3), np.float32)
    return PersonEverywhere(0.9, min_frames)


@pytest.mark.parametrize("sample", NOT_COLOUR_VIDEOS)
def test_a_stream_that_is_not_a_colour_video_is_refused_with_its_reason(tmp_path, sample):
    from pipeline.pose.video import VideoError
    name, write, reason = NOT_COLOUR_VIDEOS[sample]
    write(tmp_path / name)
    with pytest.raises(VideoError) as err:
        _person_everywhere()({"video": str(tmp_path / name)})
    assert reason in str(err.value)


def test_colour_clips_of_min_frames_pass_and_min_frames_is_the_param(tmp_path):
    _write_video(tmp_path / "eight.mp4", _scene(8))
    assert _person_everywhere()({"video": str(tmp_path / "eight.mp4")}).shape == (8, 133, 3)
    _write_video(tmp_path / "short.mp4", _scene(5))
    assert _person_everywhere(min_frames=4)({"video": str(tmp_path / "short.mp4")}).shape == (5, 133, 3)


def test_frames_opencv_leaves_unconverted_are_not_a_colour_video():
    from pipeline.pose.video import VideoError, iter_frames

    class OneChannelCapture:            # what cv2 returns with CAP_PROP_CONVERT_RGB off
        def read(self):
            return True, np.zeros((120, 160), np.uint16)

        def release(self):
            pass
    with pytest.raises(VideoError, match=r"not a colour video: decoded frames are uint16 \(120, 160\)"):
        next(iter_frames(OneChannelCapture()))


@pytest.mark.slow
@needs_fixture
def test_the_pose_stage_quarantines_streams_that_are_not_a_colour_video(tmp_path):
    """Beside the real fixture (which passes), through the stage: quarantine.csv names each
    sample, its file and the reason, and the log says it."""
    params = tiny_params()
    params["dataset"] = "byo"
    params["pose"].update(backend="mediapipe", shard_size=16, on_error="quarantine")
    wd = make_workdir(tmp_path, params)
    (wd / "videos").mkdir()
    videos = {"good": str(FIXTURE)}
    for sample, (name, write, _) in NOT_COLOUR_VIDEOS.items():
        write(wd / "videos" / name)
        videos[sample] = f"videos/{name}"
    manifest = pd.DataFrame({"sample_id": list(videos), "split": "train", "signer": 0, "label": 0, "gloss": "X",
                             "video": list(videos.values()), "n_frames": 0, "fps": 25.0})
    (wd / "results/demo").mkdir(parents=True)
    manifest.to_parquet(wd / "results/demo/manifest.parquet", index=False)
    res = _run(wd, *POSE_ARGS)
    assert res.returncode == 0, res.stderr[-3000:]
    quarantine = pd.read_csv(wd / "results/demo/pose/quarantine.csv").set_index("sample_id")
    assert set(quarantine.index) == set(NOT_COLOUR_VIDEOS)
    for sample, (_, _, reason) in NOT_COLOUR_VIDEOS.items():
        assert quarantine.loc[sample, "source"] == videos[sample]
        assert reason in quarantine.loc[sample, "reason"]
        assert f"quarantined {sample} ({videos[sample]}): " in res.stderr
    part, _ = read_shard(wd / "results/demo/pose/shard-00000.parquet")
    assert list(part) == ["good"]


@pytest.mark.slow
def test_kill_minus_nine_mid_run_keeps_finished_shards(tmp_path):
    params = tiny_params()
    params["pose"]["shard_size"] = 3
    wd = make_workdir(tmp_path, params)
    assert _run(wd, "manifest", "--out-dir", "results/demo").returncode == 0
    args = ["pose", "--manifest", "results/demo/manifest.parquet"]
    assert _run(wd, *args, "--out", "straight").returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", *args, "--out", "killed"], cwd=wd, env=tool_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while len(list((wd / "killed").glob("shard-*.parquet"))) < 2 and time.time() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {p.name: p.stat().st_mtime_ns for p in (wd / "killed").glob("shard-*.parquet")}
    assert 2 <= len(done) < 20 and not (wd / "killed/index.json").exists()
    for p in (wd / "killed").glob("shard-*.parquet"):
        read_shard_meta(p)                       # every visible shard is complete
    res = _run(wd, *args, "--out", "killed")
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stderr.count("up to date, skipped") == len(done)
    assert all((wd / "killed" / n).stat().st_mtime_ns == t for n, t in done.items())
    straight = sorted(p.name for p in (wd / "straight").iterdir())
    assert straight == sorted(p.name for p in (wd / "killed").iterdir())   # no temporaries left
    assert _run(wd, *args, "--workers", "2", "--out", "parallel").returncode == 0    # shards in 2 processes
    for name in straight:
        assert (wd / "straight" / name).read_bytes() == (wd / "killed" / name).read_bytes(), name
        assert (wd / "straight" / name).read_bytes() == (wd / "parallel" / name).read_bytes(), name


def _importer(backend: str, folder: Path, **importer):
    from pipeline.pose.backends.registry import make_backend
    cfg = tiny_params()["pose"]
    cfg["backend"] = backend
    cfg["importer"].update(dir=str(folder), **importer)
    return make_backend(cfg)


def test_sam_slr_npy_import_and_mirror(tmp_path):
    from pipeline.data.wholebody import mirror_permutation
    from pipeline.pose.video import VideoError
    rng = np.random.default_rng(0)
    arr = np.concatenate([rng.uniform(0, 512, (5, 133, 2)), rng.uniform(0.5, 1, (5, 133, 1))], 2).astype(np.float32)
    np.save(tmp_path / "signer0_sample1_color.npy", arr)             # named after the video's stem
    row = {"sample_id": "a", "video": "/data/autsl/train/signer0_sample1_color.mp4"}
    np.testing.assert_array_equal(_importer("sam_slr", tmp_path)(row), arr)
    mirrored = _importer("sam_slr", tmp_path, mirror_x=True, image_width=512)(row)
    assert mirrored[0, R_WRIST, 0] == pytest.approx(512 - arr[0, L_WRIST, 0])   # left becomes right
    np.testing.assert_array_equal(mirrored[:, RH:RH + 21, 1], arr[:, LH:LH + 21, 1])
    perm = mirror_permutation()
    assert sorted(perm) == list(range(133)) and all(perm[perm[i]] == i for i in range(133))
    assert perm[FACE + 36] == FACE + 45 and perm[FACE + 8] == FACE + 8   # eye corners swap, chin stays
    np.save(tmp_path / "b.npy", np.zeros((4, 17, 3)))
    with pytest.raises(VideoError, match=r"\(T, 133, 3\)"):
        _importer("sam_slr", tmp_path)({"sample_id": "b", "video": ""})
    with pytest.raises(VideoError, match="file not found"):
        _importer("sam_slr", tmp_path)({"sample_id": "c", "video": "c.mp4"})
    with pytest.raises(FileNotFoundError, match="pose.importer.dir"):
        _importer("sam_slr", tmp_path / "nowhere")


def test_pose_format_import_maps_like_the_mediapipe_backend(tmp_path):
    from pose_format import Pose
    from pose_format.numpy import NumPyPoseBody
    from pose_format.pose_header import PoseHeader, PoseHeaderDimensions
    from pose_format.utils.holistic import holistic_components
    comps = holistic_components("XYZC")
    n = sum(len(c.points) for c in comps)
    w, h, frames = 640, 480, 3
    rng = np.random.default_rng(1)
    data = np.zeros((frames, 1, n, 3), np.float32)
    data[..., 0], data[..., 1] = rng.uniform(0, w, (frames, 1, n)), rng.uniform(0, h, (frames, 1, n))
    conf = np.ones((frames, 1, n), np.float32)
    offsets = np.cumsum([0] + [len(c.points) for c in comps])
    conf[:, :, offsets[2]:offsets[3]] = 0                             # no left hand anywhere
    pose = Pose(PoseHeader(0.1, PoseHeaderDimensions(w, h, 0), comps), NumPyPoseBody(25, data, conf))
    with open(tmp_path / "clip.pose", "wb") as fh:
        pose.write(fh)
    out = _importer("pose_format", tmp_path)({"sample_id": "clip", "video": "x/clip.mp4"})
    expected = holistic_to_wholebody(
        np.concatenate([data[0, 0, :33, :2] / [w, h], conf[0, 0, :33, None]], 1),
        data[0, 0, offsets[1]:offsets[1] + 468, :2] / [w, h], None,
        data[0, 0, offsets[3]:offsets[4], :2] / [w, h], w, h)
    assert out.shape == (frames, 133, 3)
    np.testing.assert_allclose(out[0], expected, rtol=1e-5, atol=1e-3)
    assert (out[:, LH:LH + 21] == 0).all()


def test_rtmw_decoding_and_a_missing_model(tmp_path):
    from pipeline.pose.backends.registry import make_backend
    from pipeline.pose.backends.rtmw import decode_simcc, frame_box
    center, scale = frame_box(540, 720, 288 / 384, 1.25)             # a portrait frame, model 288x384
    np.testing.assert_allclose(center, [270, 360])
    np.testing.assert_allclose(scale, [540 * 1.25, 720 * 1.25])
    simcc_x, simcc_y = np.zeros((133, 576)), np.zeros((133, 768))    # split ratio 2
    simcc_x[:, 288], simcc_y[:, 384] = 0.9, 0.7                       # every point at the input centre
    simcc_x[5, 0] = 0.95                                             # point 5 at the left edge
    out = decode_simcc(simcc_x, simcc_y, (288, 384), center, scale)
    np.testing.assert_allclose(out[0], [270, 360, 0.7], rtol=1e-6)   # score: the smaller maximum
    assert out[5, 0] == pytest.approx(270 - 540 * 1.25 / 2)
    cfg = tiny_params()["pose"]
    cfg.update(backend="rtmw")
    with pytest.raises(ValueError, match="pose.rtmw.model"):
        make_backend(cfg)
    cfg["rtmw"]["model"] = str(tmp_path / "rtmw-x.onnx")
    with pytest.raises(FileNotFoundError, match="rtmw-x.onnx"):
        make_backend(cfg)


def test_mmpose_without_mmpose_says_what_to_install():
    import importlib.util

    from pipeline.pose.backends.registry import make_backend
    if importlib.util.find_spec("mmpose") is not None:
        pytest.skip("mmpose is installed here")
    cfg = tiny_params()["pose"]
    cfg.update(backend="mmpose")
    with pytest.raises(RuntimeError, match="envs/mmpose-tier.sh"):
        make_backend(cfg)


def _profile_simcc_model(path: Path, width: int, height: int) -> None:
    """An ONNX model with RTMW's contract ((1, 3, H, W) in; simcc_x (1, 133, W), simcc_y
    (1, 133, H) out) whose every point peaks at the brightest column and row of its input:
    a stand-in for the RTMW weights, which are not ours to ship, so that the real
    onnxruntime path (crop, normalise, decode, map back) is what the test runs."""
    import onnx
    from onnx import TensorProto, helper
    ints = lambda name, values: helper.make_tensor(name, TensorProto.INT64, [len(values)], values)  # noqa: E731
    nodes = [
        helper.make_node("ReduceMax", ["input"], ["cols"], axes=[1, 2], keepdims=1),
        helper.make_node("Reshape", ["cols", "shape_x"], ["cols3"]),
        helper.make_node("Expand", ["cols3", "expand_x"], ["simcc_x"]),
        helper.make_node("ReduceMax", ["input"], ["rows"], axes=[1, 3], keepdims=1),
        helper.make_node("Reshape", ["rows", "shape_y"], ["rows3"]),
        helper.make_node("Expand", ["rows3", "expand_y"], ["simcc_y"]),
    ]
    graph = helper.make_graph(
        nodes, "profile_simcc", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, height, width])],
        [helper.make_tensor_value_info("simcc_x", TensorProto.FLOAT, [1, 133, width]),
         helper.make_tensor_value_info("simcc_y", TensorProto.FLOAT, [1, 133, height])],
        initializer=[ints("shape_x", [1, 1, width]), ints("expand_x", [1, 133, width]),
                     ints("shape_y", [1, 1, height]), ints("expand_y", [1, 133, height])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)


def test_rtmw_backend_runs_an_onnx_model_on_video(tmp_path):
    from pipeline.pose.backends.registry import make_backend
    _profile_simcc_model(tmp_path / "profile.onnx", 48, 64)
    frames = []
    for t in range(8):                  # a bright square moving right on a dark blue 160x120 frame
        f = np.zeros((120, 160, 3), np.uint8)
        f[..., 0] = 60                  # BGR: the stage quarantines a clip without colour
        x0 = 40 + 10 * t
        f[50:60, x0:x0 + 10] = 255
        frames.append(f)
    _write_video(tmp_path / "spot.mp4", frames)
    cfg = tiny_params()["pose"]
    cfg.update(backend="rtmw")
    cfg["rtmw"].update(model=str(tmp_path / "profile.onnx"), box_padding=1.0, min_score=0.3)
    backend = make_backend(cfg)
    assert backend.size == (48, 64) and "profile.onnx" in backend.version
    out = backend({"sample_id": "spot", "video": str(tmp_path / "spot.mp4")})
    assert out.shape == (8, 133, 3) and (out[..., 2] == 1).all()
    # the first brightest column/row of the crop, mapped back: on the square (one crop pixel
    # spans 160/48 = 3.3 image pixels)
    left = 40 + 10 * np.arange(8)
    assert ((out[:, 0, 0] >= left - 3.4) & (out[:, 0, 0] <= left + 10)).all(), out[:, 0, 0]
    assert ((out[:, 0, 1] >= 50 - 3.4) & (out[:, 0, 1] <= 60)).all(), out[:, 0, 1]


def test_person_boxes_per_clip_and_per_frame():
    from pipeline.pose.person_box import HEAD_ABOVE_EYES, frame_box, person_boxes
    cfg = {"box_padding": 1.0, "person_min_score": 0.5, "box_per": "frame"}

    def body(x0, y0, x1, y1):
        points = np.zeros((33, 3), np.float32)
        points[:, 0], points[:, 1], points[:, 2] = np.linspace(x0, x1, 33), np.linspace(y0, y1, 33), 0.9
        points[30, 2] = 0.2                                          # unseen: not in the box
        points[30, :2] = (5000, 5000)
        return points
    frames = [body(100, 200, 300, 400), None, body(150, 100, 350, 500)]
    boxes = person_boxes(frames, (640, 480), cfg, aspect=1.0)
    np.testing.assert_allclose(boxes[0][0], [200, 300])
    np.testing.assert_allclose(boxes[0][1], [200, 200])
    np.testing.assert_allclose(np.stack(boxes[1]), np.stack(frame_box(640, 480, 1.0, 1.0)))   # no body: the frame
    np.testing.assert_allclose(boxes[2][1], [380, 380])              # cut at the frame's bottom (480)
    union = person_boxes(frames, (640, 480), {**cfg, "box_per": "clip"}, aspect=0.5)
    assert all(b is union[0] for b in union)
    np.testing.assert_allclose(union[0][0], [225, 290])              # x 100-350, y 100-480
    np.testing.assert_allclose(union[0][1], [250, 500])              # w 250 wide: h grown to w/h 0.5
    head = body(100, 200, 300, 400)
    head[[2, 5], 1], head[[7, 8], 0], head[[7, 8], 1] = 210, (180, 220), 215   # eyes at y 210, ears 40 apart
    top = person_boxes([head], (640, 480), cfg, aspect=1.0)[0]
    assert top[0][1] - top[1][1] / 2 == pytest.approx(210 - HEAD_ABOVE_EYES * 40)
    nobody = person_boxes([None, None], (640, 480), {**cfg, "box_per": "clip"}, 1.0)[0]
    np.testing.assert_allclose(np.stack(nobody), np.stack(frame_box(640, 480, 1.0, 1.0)))


@needs_fixture
def test_rtmw_crops_the_person_box_it_planned(tmp_path):
    """The contract model puts every point at the brightest column and row of its input: with
    the person box, every point lands inside that frame's box, and the boxes are MediaPipe
    Pose's body boxes, mostly tighter than the frame (the signer fills the portrait frame's height
    in some frames)."""
    from pipeline.pose.backends.registry import make_backend
    from pipeline.pose.person_box import body_points, person_boxes
    _profile_simcc_model(tmp_path / "profile.onnx", 48, 64)
    cfg = tiny_params()["pose"]
    cfg.update(backend="rtmw")
    cfg["rtmw"].update(model=str(tmp_path / "profile.onnx"), box="person", box_per="frame", min_score=0.0)
    backend = make_backend(cfg)
    out = backend({"sample_id": "fixture", "video": str(FIXTURE)})
    expected = person_boxes(*body_points(str(FIXTURE)), cfg["rtmw"], 48 / 64)
    assert len(backend.boxes) == len(out) == len(expected) == 58 and "person box from mediapipe" in backend.version
    for (centre, scale), (want_c, want_s), points in zip(backend.boxes, expected, out):
        np.testing.assert_allclose(centre, want_c)
        np.testing.assert_allclose(scale, want_s)
        assert scale[0] <= 540 * 1.25                                 # never wider than the whole frame's
        assert (np.abs(points[:, :2] - centre) <= scale / 2 + 1e-3).all()
    assert np.median([scale[0] for _, scale in backend.boxes]) < 0.95 * 540 * 1.25


@pytest.mark.slow
@needs_fixture
def test_the_person_box_doubles_the_hand_in_rtmws_input_on_a_landscape_video(tmp_path):
    from pipeline.pose.box_report import box_rows, landscape_copy
    params = tiny_params()
    wide = landscape_copy(FIXTURE, tmp_path / "wide.mp4")
    rows = {r["box"]: r for r in box_rows(params, wide, "landscape")}
    assert rows["frame"]["frame"] == "1280x720" and rows["frame"]["hands"] >= 10
    assert rows["person, per clip"]["vs_frame"] > 1.8 and rows["person, per frame"]["vs_frame"] > 1.8


@pytest.mark.slow
@needs_fixture
def test_demo_detector_noise_is_calibrated_on_mediapipe_jitter(fixture_pose):
    """The demo's detector noise per part is within 25 % of what MediaPipe Holistic shows on
    the real-video fixture (median |second difference| of rigid distances)."""
    from pipeline.data.jitter import rigid_jitter
    from pipeline.data.synthetic.corpus import build_corpus

    real = rigid_jitter([fixture_pose])
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    corpus = build_corpus(params["synthetic"], params["seed"])
    ids = list(corpus.manifest()["sample_id"])[::max(1, len(corpus.manifest()) // 40)]
    demo = rigid_jitter([corpus.render(i) for i in ids])
    for part in ("body", "face", "hand"):
        assert demo[part] == pytest.approx(real[part], rel=0.25), (part, demo, real)
    assert real["hand"] > 5 * real["face"]       # the hands are tracked far less steadily


@pytest.mark.slow
@needs_fixture
def test_the_stage_overhead_benchmark_times_the_stage_beside_bare_mediapipe():
    from pipeline.config import load_params
    from pipeline.pose.benchmark import stage_overhead

    r = stage_overhead(load_params(ROOT / "params.yaml"), FIXTURE, rounds=1)
    assert r["bare_frames_per_s"] > 0 and r["stage_frames_per_s"] > 0
    assert 0.3 < r["stage_over_bare"] < 3


@pytest.mark.slow
@needs_fixture
def test_the_pose_benchmark_runs_the_stage_on_copies_of_the_video():
    """`benchmark pose`'s scaling rows: the whole stage on copies of the video, in process and
    as snakemake runs it in a scratch project (one pose_shard job per copy)."""
    from pipeline.config import load_params
    from pipeline.pose.benchmark import scaling, snakemake_scaling

    params = load_params(ROOT / "params.yaml")
    (row,) = scaling(params, FIXTURE, copies=1, workers=[1])
    assert row["workers"] == 1 and row["videos"] == 1 and row["frames"] > 0 and row["speed_up"] == 1
    (dag_row,) = snakemake_scaling(params, FIXTURE, copies=1, cores=[1])
    assert dag_row["cores"] == 1 and dag_row["frames"] == row["frames"]
