import numpy as np

from pipeline.data.keypoints import normalise, select_keypoints
from pipeline.data.wholebody import get_preset


def _clip(T=5):
    rng = np.random.default_rng(0)
    x = np.zeros((T, 133, 3), np.float32)
    x[..., :2] = rng.uniform(100, 400, (T, 133, 2))
    x[..., 2] = 0.9
    x[:, 5, :2] = [300, 200]   # left shoulder (image right)
    x[:, 6, :2] = [200, 200]
    return x


def test_normalise_centres_on_shoulders_and_scales_by_their_width():
    x = _clip()
    y = normalise(x, 0.05)
    np.testing.assert_allclose(y[:, 5, :2], [[0.5, 0.0]] * 5, atol=1e-6)
    np.testing.assert_allclose(y[:, 6, :2], [[-0.5, 0.0]] * 5, atol=1e-6)
    np.testing.assert_allclose(y[..., 2], x[..., 2])


def test_undetected_points_are_zero_and_ignored():
    x = _clip()
    x[2, 40] = [123.0, 456.0, 0.01]          # below min_score
    x[3, 6, 2] = 0.0                         # a shoulder lost in one frame: that frame is skipped
    y = normalise(x, 0.05)
    assert (y[2, 40] == 0).all()
    assert (y[3, 6] == 0).all()
    np.testing.assert_allclose(y[0, 5, :2], [0.5, 0.0], atol=1e-6)


def test_select_keypoints_follows_the_preset_order():
    x = _clip()
    p = get_preset("sam27")
    y = select_keypoints(x, p)
    assert y.shape == (5, 27, 3)
    np.testing.assert_array_equal(y[:, 7], x[:, 91])
