"""Where a training job keeps its clips (train.clips): the disk store hands the feeder the
same arrays as the memory store, so batches, training and scores are the same."""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from test_no_validation import params_without_val, tiny_dataset

from pipeline.data.shards import write_shard
from pipeline.io import atomic_dir
from pipeline.train.clips import ClipFile, choose_store
from pipeline.train.data import load_splits
from pipeline.train.feeder import Feeder
from pipeline.train.stages import run_train

PARENTS = [-1, 0, 1, 0, 3]


def sharded_dataset(root):
    """Three shards of clips of different lengths; the manifest lists them in another order
    than the shards, and one shard also holds a sample the manifest does not name."""
    rng = np.random.default_rng(0)
    ids = [f"s{k:03d}" for k in range(24)]
    clips = {sid: rng.normal(size=(int(rng.integers(5, 40)), len(PARENTS), 3)).astype(np.float32) for sid in ids}
    meta = {"layout": "tiny5", "indices": list(range(len(PARENTS))), "parents": PARENTS,
            "parts": {"body": list(range(len(PARENTS)))}}
    with atomic_dir(root / "keypoints", "keypoints") as keypoints:
        for shard in range(3):
            part = {sid: clips[sid] for sid in ids[shard::3]}
            if shard == 1:
                part["stray"] = np.ones((3, len(PARENTS), 3), np.float32)
            write_shard(keypoints / f"shard-{shard:05d}.parquet", part, meta)
    order = list(rng.permutation(ids))
    rows = [{"sample_id": sid, "split": ("train", "val", "test")[k % 3], "signer": k % 4, "label": k % 2,
             "gloss": ("a", "b")[k % 2], "video": f"{sid}.mp4", "n_frames": len(clips[sid]), "fps": 25.0}
            for k, sid in enumerate(order)]
    pd.DataFrame(rows).to_parquet(root / "manifest.parquet", index=False)
    pd.DataFrame({"label": [0, 1], "gloss": ["a", "b"]}).to_csv(root / "classes.csv", index=False)
    return (root / "keypoints", root / "manifest.parquet", root / "classes.csv"), clips


def test_the_disk_store_gives_the_memory_stores_clips_and_batches(tmp_path):
    paths, clips = sharded_dataset(tmp_path)
    in_memory, meta, _ = load_splits(*paths, store="memory")
    on_disk, meta_disk, _ = load_splits(*paths, store="disk")
    assert meta == meta_disk
    for split, data in on_disk.items():
        assert isinstance(data.clips, ClipFile) and isinstance(in_memory[split].clips, list)
        assert data.sample_ids == in_memory[split].sample_ids
        np.testing.assert_array_equal(data.labels, in_memory[split].labels)
        assert len(data.clips) == len(data.sample_ids)
        for sid, clip in zip(data.sample_ids, data.clips):
            assert clip.dtype == np.float32
            np.testing.assert_array_equal(clip, clips[sid])

    def batches(data):
        feeder = Feeder(data.clips, data.labels, data.sample_ids, "bone_motion", tuple(PARENTS), 12, 0.5, 0.9)
        return list(feeder.batches(4, np.random.default_rng(7)))

    for (i, x, y), (j, x2, y2) in zip(batches(in_memory["train"]), batches(on_disk["train"]), strict=True):
        np.testing.assert_array_equal(i, j)
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)


def test_a_subset_of_a_clip_file_reads_nothing_and_keeps_its_order(tmp_path):
    paths, clips = sharded_dataset(tmp_path)
    train = load_splits(*paths, store="disk")[0]["train"]
    only = train.only_signers([2, 0])
    assert isinstance(only.clips, ClipFile)
    assert only.sample_ids == [s for s, g in zip(train.sample_ids, train.signers) if g in (0, 2)]
    for sid, clip in zip(only.sample_ids, only.clips):
        np.testing.assert_array_equal(clip, clips[sid])
    # the prefetch thread reads while another thread may: pread keeps no shared file position
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda k: train.clips[k % len(train.clips)], range(64)))
    for k, clip in enumerate(got):
        np.testing.assert_array_equal(clip, clips[train.sample_ids[k % len(train.clips)]])


def test_auto_keeps_clips_in_memory_only_when_they_fit():
    assert choose_store("auto", 2 ** 20, 1) == "memory"
    assert choose_store("auto", 2 ** 20 + 1, 1) == "disk"
    assert choose_store("disk", 0, 4096) == "disk" and choose_store("memory", 2 ** 40, 0) == "memory"
    with pytest.raises(ValueError, match=r"train.clips.store: 'ram'"):
        choose_store("ram", 0, 1)


def test_training_from_the_disk_store_is_training_from_memory(tmp_path):
    data = tiny_dataset(tmp_path, {"train": range(1, 7), "val": range(33, 34), "test": range(36, 38)})
    scores = {}
    for store in ("memory", "disk"):
        p = params_without_val()
        p["train"]["clips"] = {"store": store, "memory_mib": 4096}
        metrics = run_train(p, "joint_motion", out_dir=tmp_path / store, **data)
        with np.load(tmp_path / store / "scores.npz") as z:
            scores[store] = (metrics, z["test_scores"], z["val_scores"])
    assert scores["memory"][0] == scores["disk"][0]
    np.testing.assert_array_equal(scores["memory"][1], scores["disk"][1])
    np.testing.assert_array_equal(scores["memory"][2], scores["disk"][2])
