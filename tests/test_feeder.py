import numpy as np
import torch
import torch.nn.functional as F

from pipeline.train.feeder import Feeder, crop_bounds, resize_time


def test_resize_time_matches_torch_bilinear_half_pixel():
    x = np.random.default_rng(0).normal(size=(37, 5, 3)).astype(np.float32)
    x[..., 2] = np.abs(x[..., 2]) + 0.1          # every point detected
    ours = resize_time(x, 16)
    flat = torch.from_numpy(x.reshape(37, -1).T.copy())[None, None]
    ref = F.interpolate(flat, size=(15, 16), mode="bilinear", align_corners=False)[0, 0].T.numpy()
    np.testing.assert_allclose(ours.reshape(16, -1), ref, atol=1e-5)
    np.testing.assert_array_equal(resize_time(x, 37), x)


def test_resize_time_never_blends_with_an_undetected_point():
    x = np.zeros((6, 2, 3), np.float32)
    x[:, :, 0], x[:, :, 1], x[:, :, 2] = 10.0, 20.0, 0.8
    x[2:4, 0] = 0.0                               # point 0 undetected in frames 2-3
    x[:, 1, 2] = 0.0                              # point 1 never detected
    y = resize_time(x, 9)
    seen = y[:, 0, 2] > 0
    np.testing.assert_allclose(y[seen, 0], [[10.0, 20.0, 0.8]] * int(seen.sum()), rtol=1e-6)
    assert not seen.all() and (y[~seen, 0] == 0).all()
    assert (y[:, 1] == 0).all()


def test_crop_bounds():
    rng = np.random.default_rng(0)
    for _ in range(100):
        a, b = crop_bounds(50, rng, 0.7, 1.0)
        assert 0 <= a < b <= 50 and b - a >= 35
    assert crop_bounds(50, None, 0.7, 1.0) == (0, 50)
    assert crop_bounds(50, None, 0.7, 0.9) == (2, 48)
    assert crop_bounds(1, rng, 0.5, 1.0) == (0, 1)


def test_batches_are_reproducible_and_shaped():
    rng = np.random.default_rng(0)
    clips = [rng.normal(size=(int(n), 4, 3)).astype(np.float32) for n in rng.integers(5, 30, 10)]
    f = Feeder(clips, np.arange(10) % 3, [f"s{i}" for i in range(10)], "bone", (-1, 0, 1, 1), 8, 0.5, 1.0)
    a = [(i, x) for i, x, _ in f.batches(4, np.random.default_rng(5), drop_last=True)]
    b = [(i, x) for i, x, _ in f.batches(4, np.random.default_rng(5), drop_last=True)]
    assert len(a) == 2 and a[0][1].shape == (4, 3, 8, 4)
    for (ia, xa), (ib, xb) in zip(a, b):
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_array_equal(xa, xb)
    assert sum(len(i) for i, _, _ in f.batches(4, None)) == 10


def test_the_training_crop_keeps_a_floor_of_frames_as_ctr_gcn_keeps_64():
    """CTR-GCN's valid_crop_resize: max(floor(p * T), 64) frames, all of a shorter clip; the
    centred test crop has no floor. The paper's presets set it to 64."""
    from conftest import tiny_params

    from pipeline.config import apply_preset
    rng = np.random.default_rng(0)
    kept = [b - a for a, b in (crop_bounds(100, rng, 0.5, 1.0, 64) for _ in range(200))]
    assert min(kept) == 64 and max(kept) <= 100
    assert min(b - a for a, b in (crop_bounds(100, rng, 0.5, 1.0) for _ in range(200))) < 64
    assert crop_bounds(40, rng, 0.5, 1.0, 64) == (0, 40)
    assert crop_bounds(100, None, 0.5, 0.95, 64) == (2, 98)
    for dataset in ("slr500", "autsl"):
        p = tiny_params()
        p["dataset"] = dataset
        p["pose"]["backend"] = "mediapipe"
        p["ensemble"]["tune_on_val"] = False
        assert apply_preset(p)["train"]["crop_min_frames"] == 64
