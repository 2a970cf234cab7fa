"""Numbers that enter a stage are finite or an error naming where; files that cannot be
read name themselves; identical runs write identical bytes with the same file modes."""
import os
import stat

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import tiny_params
from safetensors.numpy import save_file

from pipeline.data.shards import META_KEY, ShardError, read_shard, write_shard
from pipeline.guards import NonFiniteError
from pipeline.text.bank import TextBank, TextBankError
from pipeline.train.feeder import Feeder
from pipeline.train.loop import TrainOutputs, train_stream

PARENTS = (-1, 0, 1, 1)


def _samples(n=3, t=5):
    rng = np.random.default_rng(0)
    return {f"s{i}": rng.normal(size=(t, 4, 3)).astype(np.float32) for i in range(n)}


def test_a_shard_refuses_to_be_written_with_a_nan(tmp_path):
    samples = _samples()
    samples["s1"][3, 2, 0] = np.nan
    with pytest.raises(NonFiniteError, match=r"shard-0.parquet: sample 's1' frame 3: non-finite .*point 2"):
        write_shard(tmp_path / "shard-0.parquet", samples, {"layout": "x"})
    assert not (tmp_path / "shard-0.parquet").exists()


def test_a_shard_with_an_inf_is_an_error_when_read(tmp_path):
    # written by something other than write_shard (an older pipeline, another tool)
    path = tmp_path / "shard-0.parquet"
    samples = _samples()
    write_shard(path, samples, {"layout": "x"})
    table = pq.read_table(path)
    flat = table.column("keypoints").combine_chunks().flatten().to_numpy().copy()
    flat[5 * 12 + 2 * 12 + 7] = np.inf          # sample s1, frame 2, point 2, channel 1
    bad = table.set_column(2, "keypoints", pa.FixedSizeListArray.from_arrays(pa.array(flat), 12))
    pq.write_table(bad.replace_schema_metadata({META_KEY: table.schema.metadata[META_KEY]}), path)
    with pytest.raises(NonFiniteError, match=r"shard-0.parquet: sample 's1' frame 2: non-finite keypoint value inf "
                                             r"\(point 2, channel 1\)"):
        read_shard(path)


def test_a_truncated_shard_names_the_file(tmp_path):
    path = tmp_path / "shard-0.parquet"
    write_shard(path, _samples(), {"layout": "x"})
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ShardError, match=r"shard-0.parquet: not a readable parquet shard"):
        read_shard(path)


def _bank(dim=4, classes=3) -> TextBank:
    rng = np.random.default_rng(0)
    return TextBank(rng.normal(size=(classes, dim)).astype(np.float32), np.eye(classes, dtype=bool),
                    rng.normal(size=(classes, 2, dim)).astype(np.float32), np.ones((classes, 2), bool),
                    np.zeros((classes, 2, classes), bool), rng.normal(size=(2, dim)).astype(np.float32),
                    np.ones((2, classes), bool), np.ones((2, 6), bool), {"variant": "x"})


def test_a_text_bank_with_a_nan_is_refused_on_save_and_on_load(tmp_path):
    bank = _bank()
    bank.synonyms[1, 0, 2] = np.nan
    with pytest.raises(NonFiniteError, match=r"bank.safetensors: text bank tensor 'synonyms': .* index \[1, 0, 2\]"):
        bank.save(tmp_path / "bank.safetensors")
    assert not (tmp_path / "bank.safetensors").exists()
    tensors = {k: (v.astype(np.uint8) if v.dtype == bool else v) for k, v in bank.tensors().items()}
    save_file(tensors, str(tmp_path / "bank.safetensors"))
    with pytest.raises(NonFiniteError, match="bank.safetensors: text bank tensor 'synonyms'"):
        TextBank.load(tmp_path / "bank.safetensors")


def test_a_corrupt_text_bank_names_the_file_and_the_stage(tmp_path):
    path = tmp_path / "gsp.safetensors"
    _bank().save(path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(TextBankError, match=r"gsp.safetensors: not a readable text bank .* rerun the embed stage"):
        TextBank.load(path)


def test_text_banks_get_the_mode_every_other_artifact_gets(tmp_path):
    from pipeline.io import _umask, write_text
    _bank().save(tmp_path / "bank.safetensors")
    write_text(tmp_path / "other.txt", "x")
    mode = stat.S_IMODE(os.stat(tmp_path / "bank.safetensors").st_mode)
    assert mode == stat.S_IMODE(os.stat(tmp_path / "other.txt").st_mode) == 0o666 & ~_umask()


def _feeders(n=24):
    rng = np.random.default_rng(0)
    clips = [rng.normal(size=(16, 4, 3)).astype(np.float32) for _ in range(n)]
    labels, ids = np.arange(n) % 3, [f"s{i}" for i in range(n)]
    return [Feeder(clips, labels, ids, "joint", PARENTS, 8, 0.5, 1.0) for _ in range(3)]


def _train(out, **over):
    p = tiny_params()
    cfg = {**p["train"], "epochs": 1, "batch_size": 8, "warmup_epochs": 0, "lr_steps": [5], **over}
    model = dict(p["model"], num_units=2, stride_units=[2])
    edges = [(c, q) for c, q in enumerate(PARENTS) if q >= 0]
    return train_stream(*_feeders(), 3, edges, model, cfg, 0, out, "fp")


def test_identical_runs_write_identical_model_bytes(tmp_path):
    _train(tmp_path / "a")
    _train(tmp_path / "b")
    # (checkpoint.pt and log.csv hold each epoch's wall time)
    for name in ("model.pt", "metrics.json", "scores.npz"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    out = TrainOutputs.in_dir(tmp_path / "run")
    _train(tmp_path / "run")                 # epoch 1 finishes and is checkpointed
    before = {p: p.read_bytes() for p in (out.checkpoint, out.model, out.metrics, out.scores, out.log)}
    # resumed for a second epoch whose lr makes the weights overflow after one step
    with pytest.raises(NonFiniteError, match=r"run: loss (nan|inf) at epoch 2 step 2; stopped, nothing written "
                                             r"\(the checkpoint of epoch 1 is kept\)"):
        _train(tmp_path / "run", epochs=2, lr_steps=[1], lr_decay=1e38)
    assert {p: p.read_bytes() for p in before} == before


def test_batch_larger_than_the_training_split_is_an_error(tmp_path):
    with pytest.raises(ValueError, match=r"train.batch_size 32 is larger than the training split \(24 clips\)"):
        _train(tmp_path / "run", batch_size=32)
