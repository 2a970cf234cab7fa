"""The whole DAG on a tiny synthetic config, through snakemake and through DVC."""
import base64
import json
import os
import re
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
from conftest import (
    BIN,
    FIXTURE,
    edit_params_no_demo_stage_reads,
    job_stats,
    make_workdir,
    needs_fixture,
    tiny_params,
    tool_env,
)

pytestmark = pytest.mark.slow

TRAIN_ARGS = ["--keypoints", "results/demo/keypoints", "--manifest", "results/demo/manifest.parquet",
              "--classes", "results/demo/classes.csv", "--text", "results/demo/text/gsp.safetensors"]


def _snakemake(workdir: Path, *args) -> subprocess.CompletedProcess:
    res = subprocess.run([str(BIN / "snakemake"), *args], cwd=workdir, env=tool_env(), capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res


@pytest.fixture(scope="module")
def dag_run(tmp_path_factory):
    wd = make_workdir(tmp_path_factory.mktemp("dag"), tiny_params())
    _snakemake(wd, "--cores", "2", "all")
    return wd


def _scores(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def test_dag_writes_metrics_for_every_stream_and_the_ensemble(dag_run):
    metrics = json.loads((dag_run / "results/demo/metrics.json").read_text())
    assert set(metrics["streams"]) == {"joint", "bone", "joint_motion", "bone_motion"}
    for part in list(metrics["streams"].values()) + [metrics["ensemble"]]:
        assert 0.0 <= part["test"]["top1"] <= part["test"]["top5"] <= 1.0
        assert part["test"]["n"] == 6 * 1 * 2        # classes x test signers x repetitions
    assert metrics["chance_top1"] == pytest.approx(1 / 6)
    assert metrics["ensemble"]["weights_source"] == "tuned_on_val"
    # the texts every stream aligned with: the encoder, and per term for how many classes
    text = metrics["text"]
    assert text["encoder"] == "minilm" and text["dim"] == 384 and text["variant"] == "gsp" and text["classes"] == 6
    # the demo's lossy dictionary leaves some classes without part segments (presets.demo lets them train)
    with_parts = _classes_with_parts(dag_run)
    assert 0 < with_parts <= 6
    assert {t: e["classes_with_texts"] for t, e in text["terms"].items()} == {"global": 6, "synonym": 6,
                                                                            "parts": with_parts}
    assert all(m["text"] == text for m in metrics["streams"].values())
    log = (dag_run / "results/demo/train/joint/log.csv").read_text().splitlines()
    assert log[0].startswith("epoch,lr,") and len(log) == 1 + 2


def _classes_with_parts(dag_run: Path) -> int:
    records = [json.loads(line) for line in (dag_run / "results/demo/descriptions/gsp.jsonl").read_text().splitlines()]
    return sum(bool(r["parts"]) for r in records)


def _gspmc(cwd: Path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "gspmc"), *map(str, args)], cwd=cwd, env=tool_env(), capture_output=True,
                          text=True, timeout=600)


def test_evaluate_reproduces_the_ensemble_from_the_bundles_alone(dag_run, tmp_path):
    """params.yaml moved away: the run's bundles say how to prepare, score and combine, and
    the ensemble's test top-1 (and every stream's) comes out exactly as the DAG wrote it."""
    metrics = json.loads((dag_run / "results/demo/metrics.json").read_text())
    params_file, away = dag_run / "params.yaml", tmp_path / "params.yaml"
    params_file.rename(away)
    try:
        res = _gspmc(dag_run, "evaluate", "--run", "results/demo", "--split", "test", "--json", tmp_path / "ev.json")
    finally:
        away.rename(params_file)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads((tmp_path / "ev.json").read_text())
    assert report["ensemble"]["top1"] == metrics["ensemble"]["test"]["top1"]
    assert report["ensemble"]["top5"] == metrics["ensemble"]["test"]["top5"]
    for stream, m in metrics["streams"].items():
        assert report["streams"][stream] == m["test"], stream
    confusion = np.array(report["confusion"])
    assert confusion.sum() == report["n"] == 12
    assert np.trace(confusion) / report["n"] == report["ensemble"]["top1"]
    assert [c["n"] for c in report["per_class"]] == list(confusion.sum(1))


@needs_fixture
def test_predict_reads_a_video_through_mediapipe_and_names_a_bad_file(dag_run, tmp_path):
    """The demo run (synthetic keypoints) reads videos with MediaPipe; a folder with one bad
    file: the video is answered, the bad file named with its reason, exit status 1."""
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "signing-person.mp4").symlink_to(FIXTURE)
    (folder / "broken.mp4").write_bytes(b"\x00" * 2048)
    res = _gspmc(tmp_path, "predict", folder, "--run", dag_run / "results/demo", "--json", "p.json")
    assert res.returncode == 1, res.stderr[-3000:]
    out = json.loads((tmp_path / "p.json").read_text())
    answered, skipped = out["results"][1], out["results"][0]
    assert answered["input"].endswith("signing-person.mp4") and len(answered["top"]) == 5
    assert skipped["input"].endswith("broken.mp4") and "cannot be opened as a video" in skipped["error"]
    assert out["pose"].startswith("videos read with pose backend mediapipe")
    assert out["streams"] == ["joint", "bone", "joint_motion", "bone_motion"]
    assert "broken.mp4" in res.stdout and "signing-person.mp4" in res.stdout


def test_pose_fans_out_one_job_per_shard(dag_run):
    """60 samples in shards of 16: four pose_shard jobs, then the index."""
    jobs = job_stats(_snakemake(dag_run, "-n", "all", "--forcerun", "pose_shard").stdout)
    assert jobs["pose_shard"] == "4" and jobs["pose"] == "1", jobs
    index = json.loads((dag_run / "results/demo/pose/index.json").read_text())
    assert index["shards"] == [f"shard-{k:05d}.parquet" for k in range(4)] and index["quarantined"] == 0


def test_second_run_does_nothing(dag_run):
    res = _snakemake(dag_run, "-n", "all")
    assert "Nothing to be done" in res.stdout + res.stderr


def test_changing_training_params_reencodes_no_text(dag_run):
    params_file = dag_run / "params.yaml"
    original = params_file.read_text()
    params = yaml.safe_load(original)
    params["train"]["lr"] = params["train"]["lr"] / 2
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        out = _snakemake(dag_run, "-n", "all").stdout
    finally:
        params_file.write_text(original)
    jobs = job_stats(out)
    assert jobs.get("train") == "4" and "embed" not in jobs and "describe" not in jobs, jobs


def test_params_deps_are_keys_and_presets_their_datasets(dag_run):
    """Another dataset's preset and a speed knob rerun nothing; a key keypoints reads reruns it
    and what follows, not pose (tests/test_dvc_workflow.py: the same in DVC)."""
    params_file = dag_run / "params.yaml"
    original = params_file.read_text()
    try:
        params_file.write_text(edit_params_no_demo_stage_reads(original))
        assert "Nothing to be done" in _snakemake(dag_run, "-n", "all").stdout
        params_file.write_text(original.replace("normalise: true", "normalise: false"))
        jobs = job_stats(_snakemake(dag_run, "-n", "all").stdout)
    finally:
        params_file.write_text(original)
    assert jobs.get("keypoints") == "1" and jobs.get("train") == "4", jobs
    assert not {"manifest", "pose", "pose_shard", "describe", "embed"} & set(jobs), jobs


def test_one_stream_rebuilds_alone(dag_run):
    target = dag_run / "results/demo/train/bone/model.pt"
    target.unlink()
    res = _snakemake(dag_run, "--cores", "1", "results/demo/train/bone/model.pt")
    out = res.stdout + res.stderr
    assert target.exists()
    assert job_stats(out) == {"train": "1", "total": "1"}


def test_tables_target_runs_what_the_tables_need(dag_run):
    """`snakemake tables` trains each ablation run (its own terms, texts and keypoints) and
    writes Tables 2-6, the class-wise gains and plot and the confusions; the main DAG is
    already there, and a second call does nothing."""
    res = _snakemake(dag_run, "--cores", "2", "tables")
    assert job_stats(res.stdout + res.stderr) == {"keypoint_preset": "2", "ablate": "6", "tables": "1",
                                                   "total": "9"}
    tables = dag_run / "results/demo/tables"
    t5 = pd.read_csv(tables / "table5.csv")
    assert len(t5) == 6 and list(t5["published SLR-500 (%)"]) == [93.85, 94.50, 94.93, 95.25, 95.38, 95.81]
    measured = dict(zip(t5["run"], t5["measured top-1 (%)"]))
    assert set(measured) == {"ce", "multipart", "all", "–"} and measured["–"] == "not run"
    ce = json.loads((dag_run / "results/demo/ablations/ce/metrics.json").read_text())
    assert float(measured["ce"]) == round(100 * ce["test"]["top1"], 2)
    t4 = pd.read_csv(tables / "table4.csv").set_index("row")
    assert t4.loc["VE + LLM + KB", "run"] == "kb_multipart" and t4.loc["VE + LLM", "measured top-1 (%)"].startswith(
        "not run (describe.variants lacks llm")
    t6 = pd.read_csv(tables / "table6.csv").set_index("preset")
    assert t6.loc["sam27", "keypoints"] == 27 and t6.loc["masa49", "measured CE (%)"] == "not run"
    assert t6.loc["sam27", "measured CE (%)"] != "not run"
    t2 = pd.read_csv(tables / "table2.csv")
    assert t2["measured top-1 (%)"].astype(float).between(0, 100).all()
    assert "minilm (384-d): global 6/6; synonym 6/6" in (tables / "table2.md").read_text()
    texts = dict(zip(t5["run"], t5["texts (classes with texts per term)"]))
    assert texts["ce"] == "none (CE only)"
    assert texts["multipart"] == f"minilm (384-d): parts {_classes_with_parts(dag_run)}/6"
    assert (pd.read_csv(tables / "table3.csv")["measured AUTSL (%)"] == "not run (dataset: autsl's tables)").all()
    per_class = pd.read_csv(tables / "classwise.csv")
    assert len(per_class) == 6 and (per_class["gain (points)"] ==
                                    (per_class["GSP-MC (%)"] - per_class["CE only (%)"]).round(2)).all()
    assert (tables / "classwise.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "most frequent" in (tables / "confusion.md").read_text()
    # the runs' overrides reached training: CE only and CE + part terms train different models
    a, b = _scores(dag_run / "results/demo/ablations/ce/scores.npz"), \
        _scores(dag_run / "results/demo/ablations/multipart/scores.npz")
    assert not np.array_equal(a["test_scores"], b["test_scores"])
    assert "Nothing to be done" in _snakemake(dag_run, "-n", "tables").stdout


def _report_data(report: Path) -> tuple[dict, dict, dict]:
    """What a snakemake HTML report embeds: its results (JSON, each file as a base64 data
    URI), its categories, and each result's bytes."""
    text = report.read_text()

    def var(name):
        return json.loads(re.search(rf'<script id="{name}">\s*var {name} = (.*?);?\s*</script>', text, re.S).group(1))

    results = var("results")
    data = {path: base64.b64decode(r["data_uri"].split("base64,", 1)[1]) for path, r in results.items()}
    return results, var("categories"), data


def test_zeroshot_target_trains_on_the_seen_classes_only(dag_run):
    """`snakemake zeroshot` on the tiny config: seen, validation-unseen and test-unseen classes
    (2 each, minimal pairs together); each variant trains both candidate streams on the seen
    classes, chooses on validation-unseen and scores test-unseen with the chosen stream."""
    import torch

    _snakemake(dag_run, "--cores", "2", "zeroshot")
    out = dag_run / "results/demo/zeroshot"
    summary = json.loads((out / "metrics.json").read_text())
    (draw,) = summary["draws"]
    sets = {name: {c["label"] for c in draw["sets"][name]} for name in ("seen", "val_unseen", "test_unseen")}
    assert all(len(v) == 2 for v in sets.values()) and len(set.union(*sets.values())) == 6
    corpus = json.loads((dag_run / "results/demo/corpus.json").read_text())
    label = {s["gloss"]: k for k, s in enumerate(corpus["signs"])}
    for s in corpus["signs"]:      # a minimal pair never straddles two sets
        if s["derived_from"]:
            assert any({label[s["gloss"]], label[s["derived_from"]]} <= v for v in sets.values())
    assert list(draw["variants"]) == ["gsp", "kb", "label"]
    for r in draw["variants"].values():
        t, v = r["test"], r["val"]
        assert t["zsl"]["candidates"] == 2 and t["zsl"]["chance_top1"] == 0.5 and t["zsl"]["n"] == 2 * 2
        assert t["gzsl"]["candidates"] == 4 and 0 <= t["gzsl"]["harmonic_mean"] <= 1
        assert v["gzsl"]["gamma"] == t["gzsl"]["gamma"] == r["chosen"]["gamma"]
        assert {t_["stream"] for t_ in r["tried"]} == {"bone", "bone_motion"}
        best = max(r["tried"], key=lambda t_: t_["val_unseen_top1"])
        assert r["chosen"]["stream"] == best["stream"] and v["zsl"]["top1"] == best["val_unseen_top1"]
    md = (out / "metrics.md").read_text()
    assert "| `gsp` |" in md and "validation-unseen" in md and "test-unseen" in md
    assert set(summary["aggregate"]["gsp"]) >= {"test_unseen_top1", "gzsl_h"}
    # what training saw: only clips of seen classes, and a 2-class head
    manifest = pd.read_parquet(dag_run / "results/demo/manifest.parquet").set_index("sample_id")
    with np.load(out / "runs/draw0/gsp/bone/scores.npz") as z:
        assert set(manifest.loc[z["test_ids"], "label"]) <= sets["seen"]
        assert z["test_scores"].shape[1] == 2
    assert "heads" in torch.load(out / "runs/draw0/gsp/bone/model.pt", weights_only=True)


def test_report_shows_the_tables_figures_and_descriptions(dag_run, tmp_path):
    """`snakemake --report` over `all`, `tables` (after test_tables_target_runs_what_the_tables_need)
    and `zeroshot`: the zero-shot table,
    Tables 2-6 and Fig. 6 as pages, every stream's training curves, the ensemble's confusion
    matrix (combined as the ensemble stage combined the streams) and each variant's
    description report, in their categories."""
    from pipeline.evaluate.figures import ensemble_test_confusion
    from pipeline.evaluate.run_record import read_run

    report = tmp_path / "report.html"
    _snakemake(dag_run, "--cores", "2", "zeroshot")
    _snakemake(dag_run, "--report", str(report), "all", "tables", "zeroshot")
    results, categories, data = _report_data(report)
    assert set(categories) == {"Training curves", "Evaluation", "Descriptions", "Tables (paper)", "Zero-shot"}
    pngs = sorted(Path(p).name for p, b in data.items() if b[:8] == b"\x89PNG\r\n\x1a\n")
    assert pngs == ["classwise.png", "confusion.png", "curves-bone.png", "curves-bone_motion.png",
                    "curves-joint.png", "curves-joint_motion.png"]
    assert {results[p]["labels"]["stream"] for subcat in categories["Training curves"].values() for p in subcat} == \
        {"joint", "bone", "joint_motion", "bone_motion"}
    page = {Path(p).relative_to("results/demo").as_posix(): b.decode() for p, b in data.items() if p.endswith(".html")}
    for k in range(2, 7):
        assert f"<h1>Table {k}:" in page[f"tables/table{k}.html"] and "<table>" in page[f"tables/table{k}.html"]
    assert all(f"<td>{v:.2f}</td>" in page["tables/table5.html"].replace(' style="text-align:right"', "")
               for v in (93.85, 94.50, 94.93, 95.25, 95.38, 95.81))
    metrics = json.loads((dag_run / "results/demo/metrics.json").read_text())
    top1 = metrics["ensemble"]["test"]["top1"]
    assert f">{100 * top1:.2f}</td>" in page["tables/table2.html"]
    assert "Class-wise gain" in page["tables/classwise.html"] and "Confusion summary" in page["tables/confusion.html"]
    for variant in ("label", "kb", "gsp"):
        assert f"<h1>Descriptions ({variant}" in page[f"descriptions/{variant}.html"]
    assert json.loads(data["results/demo/metrics.json"]) == metrics
    zeroshot = json.loads((dag_run / "results/demo/zeroshot/metrics.json").read_text())
    assert "<table>" in page["zeroshot/metrics.html"] and set(zeroshot["aggregate"]) == {"label", "kb", "gsp"}
    assert all(f"<code>{v}</code>" in page["zeroshot/metrics.html"] for v in zeroshot["aggregate"])
    run_file, record = read_run(dag_run / "results/demo/run.json")
    confusion = ensemble_test_confusion(run_file, record)
    assert np.trace(confusion) / confusion.sum() == top1


def test_same_seed_same_numbers(dag_run):
    cmd = [sys.executable, "-m", "pipeline", "train", "--stream", "joint", *TRAIN_ARGS, "--out", "again/joint"]
    subprocess.run(cmd, cwd=dag_run, env=tool_env(), check=True, capture_output=True, timeout=600)
    a = _scores(dag_run / "results/demo/train/joint/scores.npz")
    b = _scores(dag_run / "again/joint/scores.npz")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert (dag_run / "again/joint/metrics.json").read_bytes() == \
        (dag_run / "results/demo/train/joint/metrics.json").read_bytes()


def test_kill_minus_nine_then_rerun_gives_the_same_result(dag_run):
    params = tiny_params()
    params["train"]["epochs"] = 4
    wd = dag_run
    (wd / "params4.yaml").write_text(yaml.safe_dump(params))
    base = [sys.executable, "-m", "pipeline", "--params", "params4.yaml", "train", "--stream", "bone", *TRAIN_ARGS]
    subprocess.run(base + ["--out", "straight"], cwd=wd, env=tool_env(), check=True, capture_output=True,
                   timeout=600)
    proc = subprocess.Popen(base + ["--out", "killed"], cwd=wd, env=tool_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    ckpt = wd / "killed/checkpoint.pt"
    deadline = time.time() + 300
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (wd / "killed/scores.npz").exists()      # outputs only appear at the very end
    subprocess.run(base + ["--out", "killed"], cwd=wd, env=tool_env(), check=True, capture_output=True,
                   timeout=600)
    a, b = _scores(wd / "straight/scores.npz"), _scores(wd / "killed/scores.npz")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_experiment_mc_pairs_the_arms_by_seed(dag_run):
    """With lambda = 0 the MC arm gets exactly the CE arm's gradients; identical scores on
    every seed and setting show that a seed gives both arms the same init, data order and
    crops. Then the real comparison writes its table with the paired t-interval."""
    params = tiny_params()
    params["experiments"]["mc"].update(seeds=2, settings={"demo": {"train_signers": None},
                                                          "low_data": {"train_signers": 2, "steps_matched": True}},
                                       grid={"weight": [0.0], "temperature": [0.1], "seeds": 1, "setting": "demo"},
                                       ledger="tiny-{dataset}-ledger.jsonl")
    (dag_run / "params_mc0.yaml").write_text(yaml.safe_dump(params))
    cmd = [sys.executable, "-m", "pipeline", "--params", "params_mc0.yaml", "experiment", "mc"]
    subprocess.run(cmd, cwd=dag_run, env=tool_env(), check=True, capture_output=True, timeout=600)
    summary = json.loads((dag_run / "results/demo/experiments/mc.json").read_text())
    assert summary["seeds"] == [0, 1] and set(summary["settings"]) == {"demo", "low_data"}
    for setting in summary["settings"].values():
        for row in setting["per_seed"]:
            assert row["ce"] == row["gsp_mc"]
        assert setting["test"]["difference"]["joint"]["mean"] == 0.0
        assert setting["test"]["difference"]["ensemble"]["sd"] == 0.0
    low = list((dag_run / "results/demo/experiments/runs/low_data").glob("ce-*/seed0/joint/log.csv"))
    assert len(low) == 1
    # lambda chosen on validation from a grid; the low-data runs take as many steps (3 of 2 training
    # signers' clips: 1.5 x the tiny params' 2 epochs)
    params["experiments"]["mc"]["grid"]["weight"] = [0.5, 1.0]
    (dag_run / "params_mc.yaml").write_text(yaml.safe_dump(params))
    cmd[cmd.index("params_mc0.yaml")] = "params_mc.yaml"
    subprocess.run(cmd, cwd=dag_run, env=tool_env(), check=True, capture_output=True, timeout=600)
    report = (dag_run / "results/demo/experiments/mc.md").read_text()
    assert "## low_data (the first 2 training signers, 3 epochs)" in report and "95 % t-interval" in report
    summary = json.loads((dag_run / "results/demo/experiments/mc.json").read_text())
    cells = summary["grid"]["cells"]
    assert [c["weight"] for c in cells] == [0.5, 1.0] and "test" not in json.dumps(cells)
    assert summary["grid"]["chosen"]["weight"] == max(cells, key=lambda c: c["score"])["weight"]
    assert summary["arms"]["gsp_mc"]["weight"] == summary["grid"]["chosen"]["weight"]
    assert any(r["ce"] != r["gsp_mc"] for s in summary["settings"].values() for r in s["per_seed"])
    # the CE arm does not depend on the MC params: its runs were reused, not retrained
    assert len(list((dag_run / "results/demo/experiments/runs/low_data").glob("ce-*"))) == 1
    # the ledger answers for every finished unit: with the runs gone (another machine, the ledger
    # committed) the same summary comes back and nothing is trained
    ledger = dag_run / "tiny-demo-ledger.jsonl"
    records = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert {r["setting"] for r in records} == {"demo", "low_data"} and all(r["cpu"] for r in records)
    assert {r["epochs"] for r in records if r["setting"] == "low_data"} == {3}
    shutil.rmtree(dag_run / "results/demo/experiments")
    subprocess.run(cmd, cwd=dag_run, env=tool_env(), check=True, capture_output=True, timeout=600)
    assert not (dag_run / "results/demo/experiments/runs").exists()
    assert json.loads((dag_run / "results/demo/experiments/mc.json").read_text()) == summary


def test_kill_minus_nine_of_snakemake_then_the_documented_rerun(dag_run, tmp_path):
    """The whole run (snakemake and its jobs) killed at a random moment; the README's rerun
    (`--unlock`, then `--rerun-incomplete`) ends with the bytes of an uninterrupted run."""
    wd = make_workdir(tmp_path, tiny_params())
    delay = np.random.default_rng(int(time.time())).uniform(3, 40)
    proc = subprocess.Popen([str(BIN / "snakemake"), "--cores", "2", "all"], cwd=wd, env=tool_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _snakemake(wd, "--unlock")
    _snakemake(wd, "--cores", "2", "all", "--rerun-incomplete")
    names = ["results/demo/metrics.json"] + [f"results/demo/train/{s}/{f}" for s in
                                             ("joint", "bone", "joint_motion", "bone_motion")
                                             for f in ("model.pt", "metrics.json")]
    for name in names:
        assert (wd / name).read_bytes() == (dag_run / name).read_bytes(), f"{name} (killed after {delay:.1f} s)"


def test_a_failed_forcerun_keeps_the_previous_outputs(dag_run):
    """A rerun that fails (here on a corrupt text bank) restores the outputs it replaced and
    says which file is bad and which stage makes it."""
    bank = dag_run / "results/demo/text/gsp.safetensors"
    out = dag_run / "results/demo/train/joint"
    good, stat = bank.read_bytes(), bank.stat()
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.name != "checkpoint.pt"}
    try:
        bank.write_bytes(good[:1000])
        res = subprocess.run([str(BIN / "snakemake"), "--cores", "1", "--forcerun", "train", "--",
                              "results/demo/train/joint/metrics.json"], cwd=dag_run, env=tool_env(),
                             capture_output=True, text=True, timeout=600)
        assert res.returncode != 0
        # the job's own log says why (snakemake names the log)
        log = dag_run / "results/demo/logs/train/joint.log"
        assert str(log.relative_to(dag_run)) in res.stderr
        said = log.read_text()
        assert "gsp.safetensors: not a readable text bank" in said and "rerun the embed stage" in said
        assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != "checkpoint.pt"} == before
    finally:
        bank.write_bytes(good)
        os.utime(bank, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_damaged_folder_output_is_named_with_the_rule_that_rebuilds_it(dag_run):
    """A truncated keypoint shard and a deleted pose/index.json behind up-to-date results:
    snakemake's plan names both and the rule to force; forcing them rebuilds the files the
    first run wrote, and a reader given a damaged folder refuses it, naming the file."""
    shard = dag_run / "results/demo/keypoints/shard-00001.parquet"
    index = dag_run / "results/demo/pose/index.json"
    good_shard, good_index = shard.read_bytes(), index.read_bytes()
    metrics = (dag_run / "results/demo/metrics.json").read_bytes()
    shard.write_bytes(good_shard[:-100])
    index.unlink()
    plan = _snakemake(dag_run, "-n", "all")
    said = plan.stdout + plan.stderr
    assert "results/demo/keypoints is damaged: results/demo/keypoints/shard-00001.parquet has" in said
    assert "--forcerun keypoints" in said
    assert "results/demo/pose is damaged: results/demo/pose/index.json is missing" in said
    assert "--forcerun pose" in said
    res = subprocess.run([sys.executable, "-m", "pipeline", "train", "--stream", "joint", *TRAIN_ARGS,
                          "--out", "damaged/joint"], cwd=dag_run, env=tool_env(), capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 2 and "shard-00001.parquet has" in res.stderr and "rerun the keypoints stage" in res.stderr
    _snakemake(dag_run, "--cores", "2", "all", "--forcerun", "pose", "keypoints")
    assert shard.read_bytes() == good_shard and index.read_bytes() == good_index
    assert (dag_run / "results/demo/metrics.json").read_bytes() == metrics
    again = _snakemake(dag_run, "-n", "all")
    assert "Nothing to be done" in again.stdout and "damaged" not in again.stdout + again.stderr
