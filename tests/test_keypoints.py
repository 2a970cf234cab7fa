import numpy as np
from conftest import ROOT

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


def test_mirror_swaps_sides_and_flips_x_and_is_its_own_inverse():
    from pipeline.data.keypoints import mirror
    from pipeline.data.wholebody import LEFT_HAND, RIGHT_HAND

    rng = np.random.default_rng(0)
    frames = np.concatenate([rng.normal(size=(4, 133, 2)), np.ones((4, 133, 1))], -1).astype(np.float32)
    frames[1, 7] = 0.0                                   # an undetected left elbow
    m = mirror(frames)
    np.testing.assert_array_equal(m[:, RIGHT_HAND, 0], -frames[:, LEFT_HAND, 0])
    np.testing.assert_array_equal(m[:, 5, 1], frames[:, 6, 1])            # shoulders swap, y stays
    assert (m[1, 8] == 0).all() and not np.signbit(m[1, 8, 0])             # still (0, 0, 0)
    np.testing.assert_array_equal(mirror(m), frames)


def test_the_leading_hand_tells_left_handed_signers_apart():
    """On the demo corpus the hand that travels further is the dominant one in every
    one-handed sign and every sign on a base hand (symmetric signs may go either way)."""
    import yaml

    from pipeline.data.keypoints import is_left_dominant
    from pipeline.data.synthetic.corpus import build_corpus
    cfg = yaml.safe_load((ROOT / "params.yaml").read_text())["synthetic"]
    corpus = build_corpus({**cfg, "classes": 12, "signers": 4, "val_signers": 1, "test_signers": 1,
                           "repetitions": 1, "left_handed_fraction": 0.5}, seed=1)
    handed = {s.signer_id: s.right_handed for s in corpus.signers}
    assert set(handed.values()) == {True, False}
    checked = 0
    for sid in corpus.manifest()["sample_id"]:
        signer, label, _ = (int(p[1:]) for p in sid.split("_"))
        if corpus.signs[label].hands in ("one", "base"):
            frames = normalise(corpus.render(sid), 0.05)
            assert is_left_dominant(frames, 0.05) == (not handed[signer]), sid
            checked += 1
    assert checked >= 20
