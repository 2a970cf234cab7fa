import numpy as np

from pipeline.train.streams import bones, motion, to_stream

PARENTS = (-1, 0, 1)


def _x():
    x = np.zeros((3, 4, 3), np.float32)           # (C, T, V)
    x[0] = np.arange(12).reshape(4, 3)
    x[1] = 2 * np.arange(12).reshape(4, 3)
    x[2] = 0.8
    return x


def test_bone_is_child_minus_parent_and_root_keeps_its_joint():
    x = _x()
    b = bones(x, PARENTS)
    np.testing.assert_array_equal(b[:2, :, 0], x[:2, :, 0])
    np.testing.assert_array_equal(b[:2, :, 2], x[:2, :, 2] - x[:2, :, 1])
    np.testing.assert_allclose(b[2], 0.8)


def test_bone_confidence_is_the_endpoint_mean_and_missing_endpoints_zero_it():
    x = _x()
    x[2, 1, 1] = 0.0          # point 1 undetected in frame 1
    x[2, 0, 2] = 0.4
    b = bones(x, PARENTS)
    assert (b[:, 1, 1] == 0).all() and (b[:, 1, 2] == 0).all()
    np.testing.assert_allclose(b[2, 0, 2], (0.4 + 0.8) / 2)


def test_motion_is_the_next_frame_difference_with_a_zero_last_frame():
    x = _x()
    m = motion(x)
    np.testing.assert_array_equal(m[:2, :-1], x[:2, 1:] - x[:2, :-1])
    assert (m[:, -1] == 0).all()


def test_batched_streams_match_single_clips():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 4, 3)).astype(np.float32)
    x[:, 2] = np.abs(x[:, 2]) + 0.1
    for stream in ("joint", "bone", "joint_motion", "bone_motion"):
        batch = to_stream(x, stream, PARENTS)
        np.testing.assert_allclose(batch[1], to_stream(x[1], stream, PARENTS))
