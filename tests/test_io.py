import errno
import subprocess
import sys

import numpy as np
import pytest
from conftest import make_workdir, tiny_params, tool_env

from pipeline.data.shards import read_shard, read_shards, write_shard
from pipeline.io import (
    FOLDER_MANIFEST,
    CorruptOutputError,
    NoSpaceError,
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


def test_a_full_disk_names_the_output_and_keeps_the_old_one(tmp_path):
    """What the kernel answers a write on a full disk (ENOSPC), raised inside the write."""
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(NoSpaceError, match=f"{target}: no space left on device while writing it"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    with pytest.raises(PermissionError):                 # any other OSError goes through as it was
        with atomic_path(target):
            raise PermissionError(errno.EACCES, "denied")


@pytest.fixture()
def full_disk(tmp_path):
    """A real 64 KiB filesystem (tmpfs), where a mount is permitted (root, as in CI)."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_stage_on_a_full_disk_fails_in_one_line_naming_the_file(tmp_path, full_disk):
    (tmp_path / "project").mkdir()
    wd = make_workdir(tmp_path / "project", tiny_params())
    (full_disk / "results").mkdir()
    with pytest.raises(OSError), open(full_disk / "filler", "wb") as fh:   # fill it
        for _ in range(1024):
            fh.write(b"x" * 4096)
            fh.flush()
    res = subprocess.run([sys.executable, "-m", "pipeline", "manifest", "--out-dir", str(full_disk / "results/demo")],
                         cwd=wd, env=tool_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    [line] = [x for x in res.stderr.splitlines() if "failed:" in x]
    assert f"{full_disk}/results/demo/" in line and "no space left on device while writing it" in line
    assert [p.name for p in full_disk.rglob("*") if p.is_file()] == ["filler"]    # nothing half-written


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
