"""Run bundles, predict and evaluate on small hand-made runs (no training, no MediaPipe)."""
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import BIN, FIXTURE, needs_fixture, tool_env

from pipeline.data.keypoints import prepare_clip
from pipeline.data.shards import write_shard
from pipeline.data.wholebody import get_preset
from pipeline.evaluate.run_record import RUN, run_record
from pipeline.infer.inputs import ClipReader
from pipeline.infer.predict import predict
from pipeline.infer.run import RunError, load_run
from pipeline.io import file_digest, write_json
from pipeline.train.bundle import BUNDLE, stream_bundle
from pipeline.train.loop import build_model, save_torch

MODEL = {"base_channels": 8, "num_units": 2, "stride_units": [2], "temporal_kernel": 3, "dilations": [1, 2],
         "dropout": 0.0}
GLOSSES = ["HELLO", "THANKS", "HOUSE", "WATER"]
PREP = {"normalise": True, "min_score": 0.05, "mirror_left_handed": True}


def params_for(preset: str) -> dict:
    return {"dataset": "demo", "seed": 0, "model": MODEL,
            "train": {"window": 8, "test_crop": 1.0, "batch_size": 4, "threads": 1},
            "mc": {"terms": [], "descriptions": "gsp"},
            "pose": {"backend": "synthetic", "min_decoded_fraction": 0.9, "min_frames": 8,
                     "mediapipe": {"model_complexity": 1, "min_detection_confidence": 0.5,
                                   "min_tracking_confidence": 0.5},
                     "rtmw": {}, "mmpose": {},
                     "importer": {"dir": None, "mirror_x": False, "image_width": 640, "image_height": 480,
                                  "vector_layout": ["pose:xyzv", "face:xyz", "left_hand:xyz", "right_hand:xyz"]}}}


def keypoint_meta(preset: str) -> dict:
    p = get_preset(preset)
    return {"layout": p.name, "indices": list(p.indices), "parents": list(p.parents),
            "parts": {k: list(v) for k, v in p.parts.items()}, "normalised": True, "min_score": 0.05,
            "mirror_left_handed": True, "source": {"backend": "synthetic", "backend_version": "test"}}


def make_stream(folder: Path, stream: str = "joint", preset: str = "gspmc87", seed: int = 0) -> Path:
    """A trained-stream folder as the train stage writes it: model.pt + bundle.json (random weights)."""
    p = get_preset(preset)
    torch.manual_seed(seed)
    model = build_model(MODEL, len(GLOSSES), p.edges, p.num_points)
    folder.mkdir(parents=True, exist_ok=True)
    save_torch(folder / "model.pt", {"model": model.state_dict(), "num_class": len(GLOSSES),
                                     "num_points": p.num_points, "model_cfg": MODEL})
    classes = pd.DataFrame({"label": range(len(GLOSSES)), "gloss": GLOSSES})
    write_json(folder / BUNDLE, stream_bundle(params_for(preset), stream, {"terms": [], "descriptions": "gsp"},
                                              keypoint_meta(preset), classes, p.num_points, folder / "model.pt",
                                              folder))
    return folder


def make_run(root: Path, streams=("joint", "bone")) -> Path:
    dirs = {s: make_stream(root / "train" / s, s, seed=k) for k, s in enumerate(streams)}
    ensemble = {"weights": {s: 0.5 + k for k, s in enumerate(streams)}, "rule": "scores", "weights_source": "params"}
    write_json(root / RUN, run_record(dirs, root / RUN, "demo", ensemble))
    return root


def wholebody_clip(frames: int = 20, seed: int = 0) -> np.ndarray:
    """A (T, 133, 3) pose clip: random points around two shoulders, every point detected."""
    rng = np.random.default_rng(seed)
    x = rng.normal(256, 40, (frames, 133, 3)).astype(np.float32)
    x[:, 5, :2], x[:, 6, :2] = (300, 200), (200, 200)
    x[..., 2] = 0.9
    return x


def test_a_run_loads_from_its_bundles_and_scores_in_the_ensemble_order(tmp_path):
    run = load_run(make_run(tmp_path / "run"))
    assert list(run.streams) == ["joint", "bone"] and run.weights == {"joint": 0.5, "bone": 1.5}
    clip, _ = prepare_clip(wholebody_clip(), PREP, get_preset("gspmc87"))
    scores = run.stream_scores([clip])
    assert np.allclose(run.combine(scores), 0.5 * scores["joint"] + 1.5 * scores["bone"])


def test_a_clip_of_another_point_count_is_refused(tmp_path):
    run = load_run(make_run(tmp_path / "run"))
    clip, _ = prepare_clip(wholebody_clip(), PREP, get_preset("sam27"))
    with pytest.raises(RunError, match=r"preset 'gspmc87' with 87 points.*\(T, 87, 3\)"):
        run.stream_scores([clip])


def test_keypoints_of_another_preset_are_refused_by_name(tmp_path):
    run = load_run(make_run(tmp_path / "run"))
    clip, _ = prepare_clip(wholebody_clip(), PREP, get_preset("sam27"))
    shard = tmp_path / "sam27.parquet"
    write_shard(shard, {"s1": clip}, keypoint_meta("sam27"))
    [out] = predict(run, [shard])
    assert "preset 'sam27' (27 points)" in out["error"] and "'gspmc87' (87 points)" in out["error"]


def test_a_bundle_beside_another_runs_model_is_refused(tmp_path):
    a, b = make_stream(tmp_path / "a", seed=0), make_stream(tmp_path / "b", seed=1)
    (a / "model.pt").write_bytes((b / "model.pt").read_bytes())
    with pytest.raises(RunError, match="sha256 differs"):
        load_run(a)


def test_a_folder_without_bundle_names_what_is_missing(tmp_path):
    with pytest.raises(RunError, match="neither a run"):
        load_run(tmp_path)


def test_predict_answers_the_good_files_and_names_the_bad_one(tmp_path):
    run = load_run(make_run(tmp_path / "run"))
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    np.save(inputs / "good.npy", wholebody_clip())
    (inputs / "broken.npy").write_bytes(b"not an array")
    (inputs / "notes.txt").write_text("ignored: not a video or keypoint file")
    results = predict(run, [inputs], k=3)
    assert [Path(r["input"]).name for r in results] == ["broken.npy", "good.npy"]
    assert "not a readable npy file" in results[0]["error"]
    top = results[1]["top"]
    assert len(top) == 3 and {t["gloss"] for t in top} <= set(GLOSSES)
    assert top[0]["score"] >= top[1]["score"] >= top[2]["score"]


def test_pose_shards_are_prepared_like_the_keypoints_stage(tmp_path):
    """A 133-point pose shard in, the preset's normalised points out: the same array the
    keypoints stage would have written for that clip."""
    run = load_run(make_run(tmp_path / "run"))
    frames = wholebody_clip(seed=3)
    write_shard(tmp_path / "pose.parquet", {"x": frames}, {"layout": "coco_wholebody_133"})
    [clip] = list(ClipReader(run.bundle).read(tmp_path / "pose.parquet"))
    expected, _ = prepare_clip(frames, PREP, get_preset("gspmc87"))
    assert clip.name.endswith(":x") and np.array_equal(clip.points, expected)


def test_predict_tells_mediapipe_files_from_sam_slr_npy_and_from_shards(tmp_path):
    """A 2-D npy is read as flat MediaPipe vectors, a (T, 133, 3) one as SAM-SLR's; a parquet
    with the competition's landmark columns through its importer, not the shard reader; the
    same landmarks in both MediaPipe files give the same points."""
    reader = ClipReader(load_run(make_run(tmp_path / "run")).bundle)
    rng = np.random.default_rng(5)
    pose = np.concatenate([rng.uniform(0.3, 0.7, (20, 33, 3)), np.ones((20, 33, 1))], 2).astype(np.float32)
    hand = rng.uniform(0.4, 0.6, (20, 21, 3)).astype(np.float32)
    vectors = np.concatenate([pose.reshape(20, -1), np.zeros((20, 468 * 3 + 63), np.float32),
                              hand.reshape(20, -1)], 1)                    # no face, no left hand
    np.save(tmp_path / "flat.npy", vectors)
    np.save(tmp_path / "sam.npy", wholebody_clip())
    rows = [(t, part, i, *values[t, i, :3]) for part, values in (("pose", pose), ("right_hand", hand))
            for t in range(20) for i in range(values.shape[1])]
    pd.DataFrame(rows, columns=["frame", "type", "landmark_index", "x", "y", "z"]).to_parquet(
        tmp_path / "landmarks.parquet")
    clips = {p: list(reader.read(tmp_path / p)) for p in ("flat.npy", "sam.npy", "landmarks.parquet")}
    assert all(len(c) == 1 and c[0].points is not None for c in clips.values()), clips
    flat, competition = clips["flat.npy"][0].points, clips["landmarks.parquet"][0].points
    np.testing.assert_allclose(competition[..., :2], flat[..., :2], atol=1e-5)
    old = ClipReader(load_run(tmp_path / "run").bundle)
    old.pose = {**old.pose, "importer": {"dir": None, "mirror_x": False, "image_width": 512}}
    [clip] = list(old.read(tmp_path / "flat.npy"))
    assert clip.points is None and "needs pose.importer.vector_layout, which this run's bundle" in clip.reason


@pytest.mark.slow
def test_predict_cli_needs_no_params_and_writes_json_and_csv(tmp_path):
    run = make_run(tmp_path / "run")
    np.save(tmp_path / "clip.npy", wholebody_clip())
    work = tmp_path / "elsewhere"          # no params.yaml here
    work.mkdir()
    res = subprocess.run([str(BIN / "gspmc"), "predict", str(tmp_path / "clip.npy"), str(tmp_path / "missing.npy"),
                          "--run", str(run), "--json", "out.json", "--csv", "out.csv", "-k", "2"],
                         cwd=work, env=tool_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stderr          # one input answered, one skipped
    assert "missing.npy" in res.stdout and "skipped" in res.stdout
    out = json.loads((work / "out.json").read_text())
    assert out["streams"] == ["joint", "bone"] and len(out["results"][0]["top"]) == 2
    rows = pd.read_csv(work / "out.csv")
    assert list(rows["rank"].dropna()) == [1, 2]


@pytest.mark.slow
@needs_fixture
def test_overlay_draws_what_the_run_sees(tmp_path):
    """--run: the run's pose settings (MediaPipe for a synthetic-trained run) and preset."""
    import cv2

    run = make_run(tmp_path / "run")
    res = subprocess.run([str(BIN / "gspmc"), "overlay", str(FIXTURE), "-o", "out.mp4", "--run", str(run)],
                         cwd=tmp_path, env=tool_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "preset gspmc87 bones" in res.stderr
    cap = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    frames = 0
    while cap.read()[0]:
        frames += 1
    assert frames == 58


class _Payload:
    """Stands for any object a weights-only load must not build."""


def test_a_model_file_that_would_run_code_is_refused_by_name(tmp_path):
    """Issue 28, item 13: torch's message alone names no file and suggests weights_only=False."""
    folder = make_stream(tmp_path / "s")
    torch.save({"model": {}, "payload": _Payload()}, folder / "model.pt")
    bundle = json.loads((folder / BUNDLE).read_text())
    bundle["model"]["sha256"] = file_digest(folder / "model.pt")      # the bundle agrees: only loading can tell
    (folder / BUNDLE).write_text(json.dumps(bundle))
    with pytest.raises(RunError, match=rf"^{folder / 'model.pt'}: refused: it holds objects other than tensors") as err:
        load_run(folder)
    assert "weights_only=False" not in str(err.value)
    # the evaluate and zero-shot stages load a stream's model through train/loop.load_trained
    from pipeline.train.loop import WeightsFileError, load_trained
    with pytest.raises(WeightsFileError, match=rf"^{folder / 'model.pt'}: refused: it holds objects other than"):
        load_trained(folder / "model.pt", get_preset("gspmc87").edges, torch.device("cpu"))
    (folder / "model.pt").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(WeightsFileError, match=rf"^{folder / 'model.pt'}: not a readable model file"):
        load_trained(folder / "model.pt", get_preset("gspmc87").edges, torch.device("cpu"))
