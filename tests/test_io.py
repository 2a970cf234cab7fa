import numpy as np
import pytest

from pipeline.data.shards import read_shard, read_shards, write_shard
from pipeline.io import atomic_dir, atomic_path


def test_failed_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_failed_directory_write_leaves_the_old_directory(tmp_path):
    target = tmp_path / "d"
    target.mkdir()
    (target / "x").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "x").write_text("new")
            raise RuntimeError("killed")
    assert (target / "x").read_text() == "old"
    with atomic_dir(target) as tmp:
        (tmp / "y").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["y"]
    assert [p.name for p in tmp_path.iterdir()] == ["d"]


def test_shard_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    samples = {"b": rng.normal(size=(4, 133, 3)).astype(np.float32),
               "a": rng.normal(size=(2, 133, 3)).astype(np.float32)}
    write_shard(tmp_path / "shard-00000.parquet", samples, {"layout": "coco_wholebody_133", "backend": "test"})
    back, meta = read_shard(tmp_path / "shard-00000.parquet")
    assert list(back) == ["a", "b"]
    for k in samples:
        np.testing.assert_array_equal(back[k], samples[k])
    assert meta["backend"] == "test" and meta["num_points"] == 133
    all_samples, _ = read_shards(tmp_path)
    assert set(all_samples) == {"a", "b"}


def test_shard_rejects_mixed_shapes(tmp_path):
    with pytest.raises(ValueError, match="sample b"):
        write_shard(tmp_path / "s.parquet", {"a": np.zeros((2, 5, 3)), "b": np.zeros((2, 4, 3))}, {})
    assert not (tmp_path / "s.parquet").exists()
