import numpy as np
import pytest

from pipeline.data.shards import read_shard, read_shards, write_shard
from pipeline.io import (
    FOLDER_MANIFEST,
    CorruptOutputError,
    atomic_dir,
    atomic_path,
    damaged_folders,
    folder_problem,
    verify_folder,
)


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
        with atomic_dir(target, "test") as tmp:
            (tmp / "x").write_text("new")
            raise RuntimeError("killed")
    assert (target / "x").read_text() == "old"
    with atomic_dir(target, "test") as tmp:
        (tmp / "y").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == [FOLDER_MANIFEST, "y"]
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


def _folder(tmp_path):
    target = tmp_path / "keypoints"
    with atomic_dir(target, "keypoints") as tmp:
        (tmp / "shard-0.parquet").write_bytes(b"0123456789")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.json").write_text("{}")
    verify_folder(target, "keypoints")
    return target


@pytest.mark.parametrize("damage,needle", [
    (lambda d: (d / "shard-0.parquet").write_bytes(b"01234"), r"shard-0.parquet has 5 bytes, MANIFEST.json says 10"),
    (lambda d: (d / "shard-0.parquet").write_bytes(b"0123456788"), r"shard-0.parquet: content differs"),
    (lambda d: (d / "sub" / "b.json").unlink(), r"sub/b.json is missing \(listed in MANIFEST.json\)"),
    (lambda d: (d / "shard-1.parquet").write_bytes(b"x"), r"shard-1.parquet is not listed in MANIFEST.json"),
    (lambda d: (d / FOLDER_MANIFEST).unlink(), r"MANIFEST.json is missing"),
])
def test_a_damaged_folder_output_names_the_file_and_the_stage(tmp_path, damage, needle):
    target = _folder(tmp_path)
    damage(target)
    with pytest.raises(CorruptOutputError, match=needle) as err:
        verify_folder(target, "keypoints")
    assert "rerun the keypoints stage" in str(err.value)


def test_the_cheap_check_sees_presence_and_sizes(tmp_path):
    target = _folder(tmp_path)
    (target / "shard-0.parquet").write_bytes(b"0123456788")        # same size: only digests tell
    assert folder_problem(target, deep=False) is None
    assert damaged_folders([str(target)]) == {}
    (target / "shard-0.parquet").write_bytes(b"01234")
    found = damaged_folders([str(target), str(tmp_path / "absent")])
    assert list(found) == [str(target)] and "5 bytes" in found[str(target)]
