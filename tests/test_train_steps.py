"""The pieces of one training run, each alone: setup, resume, one epoch, the final
evaluation and the writes (the whole run, through `train_stream`, is in test_guards.py
and test_zeroshot.py)."""
import json

import numpy as np
import pytest
import torch
from test_zeroshot import hand_bank

from pipeline.guards import NonFiniteError
from pipeline.train.feeder import Feeder
from pipeline.train.loop import (
    LOG_FIELDS,
    TIMING_FIELDS,
    MCSetup,
    TrainJob,
    final_evaluation,
    resume,
    run_epoch,
    save_checkpoint,
    setup,
    write_outputs,
)
from pipeline.train.schedule import learning_rate

PARENTS = (-1, 0, 1, 2)
EDGES = [(c, p) for c, p in enumerate(PARENTS) if p >= 0]
PARTS = {"right_hand": [2, 3], "face": [0]}
MODEL_CFG = {"base_channels": 8, "num_units": 2, "stride_units": [2], "temporal_kernel": 3,
             "dilations": [1, 2], "dropout": 0.0}
CFG = {"optimizer": "adamw", "lr": 0.01, "weight_decay": 0.0, "momentum": 0.9, "nesterov": True,
       "epochs": 2, "batch_size": 4, "warmup_epochs": 1, "lr_steps": [1], "lr_decay": 0.1, "threads": 1,
       "device": "cpu", "precision": "auto", "compile": False, "fused_graph_conv": "auto",
       "deterministic": True, "prefetch": 2}


def _feeder(n=8, seed=0) -> Feeder:
    rng = np.random.default_rng(seed)
    clips = [rng.normal(size=(10, 4, 3)).astype(np.float32) for _ in range(n)]
    return Feeder(clips, np.arange(n) % 2, [f"s{k}" for k in range(n)], "joint", PARENTS, 8, 0.9, 1.0)


def _job(out, terms=("global", "parts"), val=True, fp="fp", keep_heads=False, dropout=0.0, **cfg) -> TrainJob:
    mc = MCSetup(hand_bank().only_classes([0, 1]), list(terms), 0.1, 0.5, PARTS)
    return TrainJob(_feeder(), _feeder(seed=1) if val else None, _feeder(seed=2), 2, EDGES,
                    {**MODEL_CFG, "dropout": dropout}, {**CFG, **cfg}, 0, out, fp, mc, keep_heads)


def _weights(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_setup_builds_text_heads_only_for_mc_terms_and_the_same_encoder_either_way(tmp_path):
    ce = setup(_job(tmp_path, terms=()))
    mc = setup(_job(tmp_path))
    assert ce.heads is None and ce.text_bank is None
    assert mc.heads is not None and set(mc.text_bank) >= {"global"}
    trained = [p for g in mc.optimizer.param_groups for p in g["params"]]
    assert len(trained) == len(list(mc.model.parameters())) + len(list(mc.heads.parameters()))
    assert len([p for g in ce.optimizer.param_groups for p in g["params"]]) == len(list(ce.model.parameters()))
    # the model is drawn from the seed before the heads: the MC terms do not change its initial weights
    assert _same(_weights(ce.model), _weights(mc.model))
    assert setup(_job(tmp_path, terms=(), keep_heads=True)).heads is None


def test_setup_refuses_a_batch_larger_than_the_training_split(tmp_path):
    with pytest.raises(ValueError, match=r"train.batch_size 9 is larger than the training split \(8 clips\)"):
        setup(_job(tmp_path / "run", batch_size=9))
    assert not (tmp_path / "run").exists()


def test_one_epoch_returns_its_log_row_and_trains_the_model_and_heads(tmp_path):
    job = _job(tmp_path)
    trainer = setup(job)
    model, heads = _weights(trainer.model), _weights(trainer.heads)
    row = run_epoch(trainer, job, 1)
    assert list(row) == LOG_FIELDS
    assert row["epoch"] == 2 and row["lr"] == learning_rate(1, 0.01, 1, [1], 0.1) == pytest.approx(0.001)
    assert row["train_loss"] > 0 and row["train_mc_loss"] > 0 and 0 <= row["train_top1"] <= 1
    assert 0 <= row["val_top1"] <= row["val_top5"] <= 1 and row["val_loss"] > 0
    assert not _same(model, _weights(trainer.model)) and not _same(heads, _weights(trainer.heads))
    assert not (tmp_path / "checkpoint.pt").exists()        # saving it is the caller's step


def test_an_epoch_is_the_same_whatever_ran_before_it_in_the_process(tmp_path):
    job = _job(tmp_path, terms=(), val=False, dropout=0.5)    # dropout draws from torch's generator
    a, b = setup(job), setup(job)
    torch.manual_seed(123)
    np.random.seed(123)
    row_a = run_epoch(a, job, 0)
    row_b = run_epoch(b, job, 0)
    untimed = lambda row: {k: v for k, v in row.items() if k not in TIMING_FIELDS}  # noqa: E731
    assert untimed(row_a) == untimed(row_b)
    assert row_a["val_loss"] is row_a["val_top1"] is row_a["val_top5"] is None
    assert row_a["train_mc_loss"] == 0.0
    assert _same(_weights(a.model), _weights(b.model))


def test_a_non_finite_loss_stops_the_epoch_before_its_step(tmp_path):
    job = _job(tmp_path / "run", terms=(), lr=1e30, warmup_epochs=0)
    trainer = setup(job)
    with pytest.raises(NonFiniteError, match=r"run: loss (nan|inf) at epoch 1 step 2; stopped, nothing written "
                                             r"\(no checkpoint yet\)"):
        run_epoch(trainer, job, 0)


def test_resume_continues_a_checkpoint_of_the_same_inputs(tmp_path):
    job = _job(tmp_path)
    trainer = setup(job)
    rows = [run_epoch(trainer, job, 0)]
    save_checkpoint(trainer, job, 0, rows)
    trained_model, trained_heads = _weights(trainer.model), _weights(trainer.heads)

    again = setup(job)
    assert not _same(trained_model, _weights(again.model))
    start, resumed_rows = resume(again, job)
    assert start == 1 and resumed_rows == rows
    assert _same(trained_model, _weights(again.model)) and _same(trained_heads, _weights(again.heads))
    assert again.optimizer.state_dict()["state"]                 # AdamW's moments came back too


def test_resume_starts_fresh_from_other_inputs_or_no_checkpoint(tmp_path):
    assert resume(setup(_job(tmp_path)), _job(tmp_path)) == (0, [])
    job = _job(tmp_path)
    trainer = setup(job)
    save_checkpoint(trainer, job, 0, [run_epoch(trainer, job, 0)])
    other = _job(tmp_path, fp="other inputs")
    fresh = setup(other)
    built = _weights(fresh.model)
    assert resume(fresh, other) == (0, [])
    assert _same(built, _weights(fresh.model)) and not fresh.optimizer.state_dict()["state"]


def test_resume_starts_fresh_from_a_checkpoint_of_another_model_layout(tmp_path):
    """Same params and inputs, but written by code whose modules were named or shaped
    otherwise: loading it would fail (or mismatch the optimiser's moments), so start over."""
    job = _job(tmp_path)
    trainer = setup(job)
    save_checkpoint(trainer, job, 0, [run_epoch(trainer, job, 0)])
    state = torch.load(job.outputs.checkpoint, weights_only=True)
    state["model"] = {k.replace("exit_bn", "pool_bn"): v for k, v in state["model"].items()}
    torch.save(state, job.outputs.checkpoint)
    fresh = setup(job)
    built = _weights(fresh.model)
    assert resume(fresh, job) == (0, [])
    assert _same(built, _weights(fresh.model)) and not fresh.optimizer.state_dict()["state"]


@pytest.mark.parametrize("val", [True, False])
def test_final_evaluation_scores_val_test_and_train(tmp_path, val):
    job = _job(tmp_path, val=val)
    metrics, arrays = final_evaluation(setup(job), job)
    assert metrics["epochs"] == 2 and metrics["num_class"] == 2 and metrics["parameters"] > 0
    assert metrics["test"]["n"] == metrics["train"]["n"] == 8
    assert list(arrays)[-3:] == ["test_ids", "test_labels", "test_scores"]
    assert arrays["test_scores"].shape == (8, 2) and list(arrays["test_ids"]) == job.test.sample_ids
    if val:
        assert metrics["val"]["n"] == 8 and list(arrays)[:3] == ["val_ids", "val_labels", "val_scores"]
    else:
        assert metrics["val"] is None and len(arrays) == 3


@pytest.mark.parametrize("keep_heads", [True, False])
def test_write_outputs_writes_the_four_files_and_heads_only_when_kept(tmp_path, keep_heads):
    job = _job(tmp_path, keep_heads=keep_heads)
    trainer = setup(job)
    rows = [{**dict.fromkeys(LOG_FIELDS, 0.5), "epoch": 1, "val_loss": None}]
    metrics, arrays = final_evaluation(trainer, job)
    write_outputs(trainer, job, metrics, arrays, rows)
    assert json.loads((tmp_path / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    with np.load(tmp_path / "scores.npz") as saved:
        assert sorted(saved.files) == sorted(arrays)
        np.testing.assert_array_equal(saved["test_scores"], arrays["test_scores"])
    row = "1,0.5,0.5,0.5,0.5,,0.5,0.5,0.5,0.5,0.5"
    assert (tmp_path / "log.csv").read_text().splitlines() == [",".join(LOG_FIELDS), row]
    model = torch.load(tmp_path / "model.pt", weights_only=True)
    assert model["num_class"] == 2 and model["num_points"] == 4 and model["model_cfg"] == MODEL_CFG
    assert _same(model["model"], _weights(trainer.model))
    assert ("heads" in model) == keep_heads == ("heads_cfg" in model)
    assert not (tmp_path / "checkpoint.pt").exists()
