"""train.precision (its CPU probe too), train.prefetch and the epoch log's data and compute
seconds (pipeline/train/accel.py, precision_probe.py): speed knobs that never change what the
CPU trains, except bf16 where chosen."""
import json
import threading
import time

import pytest
import torch
from test_train_steps import MODEL_CFG, _job, _same, _weights

from pipeline.model.ctrgcn import CTRGCN
from pipeline.train import precision_probe
from pipeline.train.accel import Timed, resolve_precision
from pipeline.train.loop import TIMING_FIELDS, build_model, run_epoch, setup

EDGES_4 = [(1, 0), (2, 1), (3, 2)]


def _tiny() -> CTRGCN:
    return build_model(MODEL_CFG, 3, EDGES_4, 4)


def test_auto_precision_is_fp32_on_the_cpu_unless_its_probe_says_bf16_and_fp16_needs_cuda():
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == "fp32"
    assert resolve_precision("auto", cpu, lambda: "bf16") == "bf16"
    assert resolve_precision("fp32", cpu, lambda: "bf16") == "fp32"          # only auto asks the probe
    assert resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        resolve_precision("fp16", cpu)
    with pytest.raises(ValueError, match="train.precision 'half'"):
        resolve_precision("half", cpu)


def test_prefetching_batches_changes_nothing_that_is_trained(tmp_path):
    """The producer thread draws the crops in the loop's order: the same rows and weights
    with the batches prepared ahead as without; the row says where the time went."""
    runs = {}
    for depth in (0, 3):
        trainer = setup(_job(tmp_path / str(depth), prefetch=depth, dropout=0.3))
        row = run_epoch(trainer, _job(tmp_path / str(depth), prefetch=depth, dropout=0.3), 0)
        runs[depth] = ({k: v for k, v in row.items() if k not in TIMING_FIELDS}, _weights(trainer.model))
        assert 0 <= row["data_seconds"] and 0 < row["compute_seconds"] <= row["seconds"]
    assert runs[0][0] == runs[3][0] and _same(runs[0][1], runs[3][1])


def test_bf16_on_the_cpu_trains_with_fp32_weights_and_losses(tmp_path):
    job = _job(tmp_path, precision="bf16")
    trainer = setup(job)
    row = run_epoch(trainer, job, 0)
    assert trainer.precision == "bf16" and row["train_loss"] > 0 and row["train_mc_loss"] > 0
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())


def test_timed_hands_over_every_item_in_order_and_counts_the_wait():
    def slow():
        for k in range(5):
            time.sleep(0.02)
            yield k

    for depth in (0, 2):
        batches = Timed(slow(), depth)
        assert list(batches) == [0, 1, 2, 3, 4]
        assert batches.waited >= 0.05     # the consumer did nothing else: it waited for most of it
        batches.close()


def test_timed_raises_the_producers_error_in_the_consumer_and_close_stops_it():
    def failing():
        yield 1
        raise ValueError("clip 7 is broken")

    batches = Timed(failing(), 2)
    assert next(batches) == 1
    with pytest.raises(ValueError, match="clip 7 is broken"):
        next(batches)

    produced = []

    def endless():
        k = 0
        while True:
            produced.append(k)
            yield k
            k += 1

    before = threading.active_count()
    batches = Timed(endless(), 2)
    assert next(batches) == 0
    batches.close()                      # a loop left early (a non-finite loss)
    assert threading.active_count() == before and len(produced) <= 5


def _probe(threads: int = 1) -> str:
    return precision_probe.cpu_auto_precision(_tiny, MODEL_CFG, 4, 8, 4, threads)


def test_the_cpu_probe_picks_bf16_only_where_it_measured_it_faster_and_caches_the_answer(monkeypatch, tmp_path):
    monkeypatch.setenv("GSPMC_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(precision_probe, "cpu_flags", lambda: {"avx512f", "amx_bf16"})
    timings = {"fp32": 1.0, "bf16": 1.0 / 1.05}                 # 1.05x: under MIN_GAIN
    monkeypatch.setattr(precision_probe, "time_precisions", lambda *a: dict(timings))
    assert _probe(threads=1) == "fp32"
    timings["bf16"] = 1.0 / 1.5
    assert _probe(threads=1) == "fp32"                           # cached: the shape was measured
    assert _probe(threads=2) == "bf16"                           # another thread count is another shape
    cache = json.loads((tmp_path / "precision-probe.json").read_text())
    assert sorted(v["choice"] for v in cache.values()) == ["bf16", "fp32"]

    def no_timing(*_):
        raise AssertionError("timed again")
    monkeypatch.setattr(precision_probe, "time_precisions", no_timing)
    assert _probe(threads=2) == "bf16"
    monkeypatch.setattr(precision_probe, "cpu_flags", lambda: {"avx512f", "avx2"})
    assert _probe(threads=3) == "fp32"                           # no bf16 units: not even timed


def test_the_cpu_probe_times_the_encoder_without_touching_the_training_random_stream(monkeypatch, tmp_path):
    monkeypatch.setenv("GSPMC_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(precision_probe, "cpu_flags", lambda: {"amx_bf16"})
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    assert _probe() in ("fp32", "bf16")
    assert torch.equal(torch.rand(4), expected)
    (entry,) = json.loads((tmp_path / "precision-probe.json").read_text()).values()
    assert entry["seconds_per_step"]["fp32"] > 0 and entry["seconds_per_step"]["bf16"] > 0


def test_setup_trains_in_the_probes_choice_on_the_cpu(monkeypatch, tmp_path):
    monkeypatch.setenv("GSPMC_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(precision_probe, "cpu_flags", lambda: {"amx_bf16"})
    monkeypatch.setattr(precision_probe, "time_precisions", lambda *a: {"fp32": 2.0, "bf16": 1.0})
    assert setup(_job(tmp_path / "auto", precision="auto")).precision == "bf16"
    assert setup(_job(tmp_path / "fp32", precision="fp32")).precision == "fp32"


def test_jobs_started_together_share_one_probe(monkeypatch, tmp_path):
    """Two stream jobs asking at once: one times, the other waits and reads its answer."""
    monkeypatch.setenv("GSPMC_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(precision_probe, "cpu_flags", lambda: {"amx_bf16"})
    calls = []

    def slow_timing(*_):
        calls.append(1)
        time.sleep(0.3)
        return {"fp32": 2.0, "bf16": 1.0}
    monkeypatch.setattr(precision_probe, "time_precisions", slow_timing)
    answers = []
    jobs = [threading.Thread(target=lambda: answers.append(_probe())) for _ in range(2)]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    assert answers == ["bf16", "bf16"] and len(calls) == 1
