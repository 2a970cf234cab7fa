"""The keypoint importers for files people already have (issue 29): the isolated-sign
competition's parquet, the tutorial's flat MediaPipe vectors, OpenPose JSON. Each format is
written from the project's own MediaPipe run of the real fixture video, by the format's own
definition, and each importer must give back the mediapipe backend's 133-point frames (to the
format's precision); then a byo dataset over each format runs through pose and keypoints."""
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import BIN, FIXTURE, make_workdir, needs_fixture, tiny_params, tool_env

from pipeline.pose.video import VideoError

PARTS = (("face", 468), ("left_hand", 21), ("pose", 33), ("right_hand", 21))   # the competition's order

# OpenPose's BODY_25 and COCO-WholeBody's 23 body+feet points by name (from each project's docs),
# so the OpenPose files below are written without the importer's index table
BODY_25 = ["nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
           "left_wrist", "mid_hip", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
           "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe",
           "left_heel", "right_big_toe", "right_small_toe", "right_heel"]
COCO_23 = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
           "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
           "right_knee", "left_ankle", "right_ankle", "left_big_toe", "left_small_toe", "left_heel",
           "right_big_toe", "right_small_toe", "right_heel"]
FACE, LH, RH = 23, 91, 112


@pytest.fixture(scope="module")
def mediapipe_run():
    """The raw Holistic landmarks of every fixture frame (x, y, z normalised; pose also
    visibility; None where a part was not found), the frame size, and what the mediapipe
    backend makes of the same video."""
    if not FIXTURE.exists():
        pytest.skip("the real-video fixture is not here")
    from pipeline.pose.backends.mediapipe_holistic import holistic_graph
    from pipeline.pose.backends.registry import make_backend
    from pipeline.pose.video import iter_frames, open_video

    cfg = tiny_params()["pose"]
    cfg["backend"] = "mediapipe"
    raw, size = [], None
    cap, _ = open_video(str(FIXTURE))
    with holistic_graph(cfg["mediapipe"]) as holistic:
        for rgb in iter_frames(cap):
            size = rgb.shape[1], rgb.shape[0]
            res = holistic.process(rgb)
            frame = {}
            for name, _ in PARTS:
                lms = getattr(res, f"{name}_landmarks")
                frame[name] = None if lms is None else np.array(
                    [(p.x, p.y, p.z, p.visibility) if name == "pose" else (p.x, p.y, p.z) for p in lms.landmark],
                    np.float32)
            raw.append(frame)
    backend = make_backend(cfg)({"video": str(FIXTURE), "sample_id": "fixture"})
    return raw, size, backend


def _importer(backend: str, folder: Path, **importer):
    from pipeline.pose.backends.registry import make_backend
    cfg = tiny_params()["pose"]
    cfg["backend"] = backend
    cfg["importer"].update(dir=str(folder), **importer)
    return make_backend(cfg)


def write_competition_parquet(raw: list[dict], path: Path) -> None:
    """The competition's layout: per frame, every landmark of face, left_hand, pose, right_hand
    as a row, NaN x, y, z for a part not found."""
    rows = []
    for t, frame in enumerate(raw):
        for name, n in PARTS:
            values = frame[name][:, :3] if frame[name] is not None else np.full((n, 3), np.nan)
            for i in range(n):
                rows.append((t, f"{t}-{name}-{i}", name, i, *map(float, values[i])))
    table = pd.DataFrame(rows, columns=["frame", "row_id", "type", "landmark_index", "x", "y", "z"])
    table = table.astype({"frame": "int16", "landmark_index": "int16"})
    table.to_parquet(path, index=False)


def tutorial_vector(frame: dict, with_face: bool = True) -> np.ndarray:
    """The tutorial's extract_keypoints: pose 33x4, face 468x3, hands 21x3, zeros when absent."""
    def part(name, n, k):
        return frame[name][:, :k].flatten() if frame[name] is not None else np.zeros(n * k)
    parts = [part("pose", 33, 4)] + ([part("face", 468, 3)] if with_face else []) + \
        [part("left_hand", 21, 3), part("right_hand", 21, 3)]
    return np.concatenate(parts).astype(np.float32)


def openpose_record(points: np.ndarray) -> dict:
    """An OpenPose frame (BODY_25, face 70, hands) written from one (133, 3) frame by point name,
    at OpenPose's precision; neck and mid-hip as the middle of the shoulders and of the hips."""
    body = np.zeros((25, 3), np.float32)
    for coco, name in enumerate(COCO_23):
        body[BODY_25.index(name)] = points[coco]
    for name, (a, b) in {"neck": ("left_shoulder", "right_shoulder"), "mid_hip": ("left_hip", "right_hip")}.items():
        pa, pb = points[COCO_23.index(a)], points[COCO_23.index(b)]
        body[BODY_25.index(name)] = [*(pa[:2] + pb[:2]) / 2, min(pa[2], pb[2])]
    face = np.concatenate([points[FACE:FACE + 68], np.zeros((2, 3), np.float32)])    # pupils: not found

    def flat(a):
        return [round(float(v), 3) if i % 3 < 2 else round(float(v), 6) for i, v in enumerate(a.flatten())]
    return {"version": 1.3, "people": [{
        "person_id": [-1], "pose_keypoints_2d": flat(body), "face_keypoints_2d": flat(face),
        "hand_left_keypoints_2d": flat(points[LH:LH + 21]), "hand_right_keypoints_2d": flat(points[RH:RH + 21]),
        "pose_keypoints_3d": [], "face_keypoints_3d": [], "hand_left_keypoints_3d": [],
        "hand_right_keypoints_3d": []}]}


def test_the_raw_landmarks_are_what_the_backend_maps(mediapipe_run):
    from pipeline.pose.holistic_map import holistic_to_wholebody
    raw, (w, h), backend = mediapipe_run
    mapped = np.stack([holistic_to_wholebody(f["pose"][:, [0, 1, 3]] if f["pose"] is not None else None,
                                             f["face"], f["left_hand"], f["right_hand"], w, h) for f in raw])
    np.testing.assert_array_equal(mapped, backend)           # one run of Holistic, the same frames
    assert sum(f["right_hand"] is not None for f in raw) >= 10 and all(f["face"] is not None for f in raw)


@needs_fixture
def test_competition_parquet_gives_the_backends_frames(mediapipe_run, tmp_path):
    raw, (w, h), backend = mediapipe_run
    write_competition_parquet(raw, tmp_path / "1000035562.parquet")
    out = _importer("mediapipe_parquet", tmp_path, image_width=w, image_height=h)(
        {"sample_id": "s", "video": "train_landmark_files/16069/1000035562.mp4"})
    assert out.shape == backend.shape
    np.testing.assert_allclose(out[..., :2], backend[..., :2], rtol=1e-6, atol=1e-4)
    # the format keeps no visibility: a body point that is there scores 1
    np.testing.assert_array_equal(out[..., 2] > 0, backend[..., 2] > 0)
    assert (out[:, :23, 2][out[:, :23, 2] > 0] == 1).all()
    np.testing.assert_array_equal(out[:, 23:, 2], backend[:, 23:, 2])
    bad = pd.read_parquet(tmp_path / "1000035562.parquet")
    bad.loc[3, "type"] = "hand"
    bad.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(VideoError, match="landmark type 'hand'"):
        _importer("mediapipe_parquet", tmp_path)({"sample_id": "bad", "video": ""})
    (tmp_path / "junk.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(VideoError, match="not a landmark parquet"):
        _importer("mediapipe_parquet", tmp_path)({"sample_id": "junk", "video": ""})


@needs_fixture
def test_flat_vectors_per_clip_and_per_frame_give_the_backends_frames(mediapipe_run, tmp_path):
    raw, (w, h), backend = mediapipe_run
    np.save(tmp_path / "hello-1.npy", np.stack([tutorial_vector(f) for f in raw]))        # (T, 1662)
    (tmp_path / "hello-2").mkdir()                                                         # MP_Data/<seq>/<n>.npy
    for t, frame in enumerate(raw):
        np.save(tmp_path / "hello-2" / f"{t}.npy", tutorial_vector(frame))
    size = {"image_width": w, "image_height": h}
    for stem in ("hello-1", "hello-2"):
        out = _importer("mediapipe_npy", tmp_path, **size)({"sample_id": stem, "video": f"v/{stem}.mp4"})
        np.testing.assert_allclose(out, backend, rtol=1e-6, atol=1e-4)   # 10.npy after 9.npy
    no_face = ["pose:xyzv", "left_hand:xyz", "right_hand:xyz"]
    np.save(tmp_path / "nf.npy", np.stack([tutorial_vector(f, with_face=False) for f in raw]))      # (T, 258)
    out = _importer("mediapipe_npy", tmp_path, vector_layout=no_face, **size)({"sample_id": "nf", "video": ""})
    assert (out[:, FACE:FACE + 68] == 0).all()
    keep = np.r_[0:FACE, LH:133]
    np.testing.assert_allclose(out[:, keep], backend[:, keep], rtol=1e-6, atol=1e-4)
    with pytest.raises(VideoError, match=r"D = 1662 .*got \(58, 258\); 258 is \[pose:xyzv, left_hand:xyz"):
        _importer("mediapipe_npy", tmp_path)({"sample_id": "nf", "video": ""})
    with pytest.raises(ValueError, match="named twice"):
        _importer("mediapipe_npy", tmp_path, vector_layout=["pose:xyzv", "pose:xy"])


@needs_fixture
@pytest.mark.parametrize("layout", ["folder", "side_by_side"])
def test_openpose_json_gives_the_backends_frames(mediapipe_run, tmp_path, layout):
    _, _, backend = mediapipe_run
    folder = tmp_path / "clip" if layout == "folder" else tmp_path
    folder.mkdir(exist_ok=True)
    for t, points in enumerate(backend):
        record = openpose_record(points)
        if t == 5:       # a bystander with a weaker body than the signer: not picked
            record["people"].insert(0, openpose_record(points * [0.5, 0.5, 0.3])["people"][0])
        (folder / f"clip_{t:012d}_keypoints.json").write_text(json.dumps(record))
    (tmp_path / "clip_extra_000000000000_keypoints.json").write_text(json.dumps({"people": []}))  # another clip
    out = _importer("openpose", tmp_path)({"sample_id": "x", "video": "videos/clip.mp4"})
    assert out.shape == backend.shape
    np.testing.assert_allclose(out[..., :2], backend[..., :2], atol=1e-3)
    np.testing.assert_allclose(out[..., 2], backend[..., 2], atol=1e-6)
    (folder / "clip_000000000003_keypoints.json").write_text('{"people": [{"pose_keypoints_2d": [1, 2]}]}')
    with pytest.raises(VideoError, match="clip_000000000003_keypoints.json: .*pose_keypoints_2d has 2 values"):
        _importer("openpose", tmp_path)({"sample_id": "x", "video": "videos/clip.mp4"})


def test_a_folder_of_frames_digests_its_files_and_names(tmp_path):
    imp = _importer("mediapipe_npy", tmp_path)
    (tmp_path / "c").mkdir()
    for t in range(2):
        np.save(tmp_path / "c" / f"{t}.npy", np.zeros(1662, np.float32))
    row = {"sample_id": "c", "video": ""}
    first = imp.digest(row)
    np.save(tmp_path / "c" / "1.npy", np.ones(1662, np.float32))
    assert imp.digest(row) != first and imp.source(row) == str(tmp_path / "c")
    assert imp.digest({"sample_id": "nothing", "video": ""}) is None


FORMATS = {
    "mediapipe_parquet": lambda raw, backend, path: write_competition_parquet(raw, path.with_suffix(".parquet")),
    "mediapipe_npy": lambda raw, backend, path: np.save(path.with_suffix(".npy"),
                                                        np.stack([tutorial_vector(f) for f in raw])),
    "openpose": lambda raw, backend, path: [
        (path.parent / f"{path.name}_{t:012d}_keypoints.json").write_text(json.dumps(openpose_record(p)))
        for t, p in enumerate(backend)],
}


@needs_fixture
@pytest.mark.slow
@pytest.mark.parametrize("backend_name", list(FORMATS))
def test_a_byo_dataset_over_each_format_runs_pose_and_keypoints(mediapipe_run, tmp_path, backend_name):
    """A byo CSV whose videos are not there: the keypoint files stand in for them."""
    raw, (w, h), backend = mediapipe_run
    for d in ("data", "keypoint_files", "dictionary", "project"):
        (tmp_path / d).mkdir()
    rows = ["path,label,signer,split"]
    for gloss in ("hello", "thanks"):
        for signer, split in ((1, "train"), (2, "train"), (3, "val"), (4, "test")):
            name = f"{gloss}-{signer}"
            FORMATS[backend_name](raw, backend, tmp_path / "keypoint_files" / name)
            rows.append(f"videos/{name}.mp4,{gloss},{signer},{split}")
    (tmp_path / "data/list.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "dictionary/signs.md").write_text("HELLO — A flat hand moves out from the brow.\n\n"
                                                  "THANKS — A flat hand moves from the chin forward.\n")
    p = tiny_params()
    p["dataset"] = "byo"
    p["datasets"]["byo"]["csv"] = str(tmp_path / "data/list.csv")
    p["pose"].update(backend=backend_name, shard_size=4)
    p["pose"]["importer"].update(dir=str(tmp_path / "keypoint_files"), image_width=w, image_height=h)
    p["knowledge"]["path"] = str(tmp_path / "dictionary")
    wd = make_workdir(tmp_path / "project", p)
    res = subprocess.run([str(BIN / "snakemake"), "--cores", "2", "results/byo/keypoints"], cwd=wd,
                         env=tool_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    index = json.loads((wd / "results/byo/pose/index.json").read_text())
    assert index["backend"] == backend_name and len(index["shards"]) == 2 and index["quarantined"] == 0
    from pipeline.data.shards import read_shard
    samples = {}
    for shard in sorted((wd / "results/byo/keypoints").glob("shard-*.parquet")):
        samples.update(read_shard(shard)[0])
    assert len(samples) == 8 and all(len(v) == len(backend) for v in samples.values())
