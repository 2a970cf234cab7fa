import numpy as np
import pytest

from pipeline.evaluate.ensemble import combine, ensemble, softmax, tune_weights


def _scores():
    """Two streams on 2 samples, 3 classes: `big` has a large logit scale but splits its
    probability between classes 1 and 2; `small` has a small scale and is sure of class 0."""
    big = np.array([[0.0, 6.0, 5.8], [0.0, 6.0, 5.8]])
    small = np.array([[3.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    return {"big": big, "small": small}


def test_scores_rule_sums_raw_logits_and_softmax_rule_sums_probabilities():
    s, w = _scores(), {"big": 0.6, "small": 0.4}
    np.testing.assert_allclose(combine(s, w, "scores"), 0.6 * s["big"] + 0.4 * s["small"])
    np.testing.assert_allclose(combine(s, w, "softmax"), 0.6 * softmax(s["big"]) + 0.4 * softmax(s["small"]))


def test_the_two_rules_can_disagree_on_streams_of_different_scales():
    s, w = _scores(), {"big": 0.5, "small": 0.5}
    # raw scores follow the large-scale stream: 3.0 for class 1 against 1.5 for class 0
    assert list(combine(s, w, "scores").argmax(1)) == [1, 1]
    # probabilities follow the sure one: 0.46 for class 0 against 0.30 for class 1
    assert list(combine(s, w, "softmax").argmax(1)) == [0, 0]


def test_unknown_rule_is_named():
    with pytest.raises(ValueError, match="unknown ensemble rule 'mean'"):
        combine(_scores(), {"big": 1.0}, "mean")


def _write_stream(path, val, test, val_labels, test_labels):
    path.mkdir(parents=True)
    np.savez(path / "scores.npz", val_ids=np.array([f"v{i}" for i in range(len(val))]), val_labels=val_labels,
             val_scores=val, test_ids=np.array([f"t{i}" for i in range(len(test))]), test_labels=test_labels,
             test_scores=test)


@pytest.mark.parametrize("rule", ["scores", "softmax"])
def test_weights_are_tuned_on_val_only_and_the_rule_is_recorded(tmp_path, rule):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 40)
    dirs = {}
    for k, name in enumerate(("joint", "bone")):
        val, test = rng.normal(size=(40, 5)) * (1 + 3 * k), rng.normal(size=(40, 5))
        val[np.arange(40), labels] += 1.0 + k
        _write_stream(tmp_path / name, val, test, labels, labels)
        dirs[name] = tmp_path / name
    m = ensemble(dirs, {"joint": 0.6, "bone": 0.6}, True, rule)
    assert m["ensemble"]["rule"] == rule
    val = {n: np.load(d / "scores.npz")["val_scores"] for n, d in dirs.items()}
    assert m["ensemble"]["weights"] == tune_weights(val, labels, {"joint": 0.6, "bone": 0.6}, rule)
    # new test scores change nothing that was chosen
    for d in dirs.values():
        z = dict(np.load(d / "scores.npz"))
        z["test_scores"] = rng.normal(size=(40, 5))
        np.savez(d / "scores.npz", **z)
    assert ensemble(dirs, {"joint": 0.6, "bone": 0.6}, True, rule)["ensemble"]["weights"] == m["ensemble"]["weights"]


def test_paired_interval_is_the_student_t_interval_of_the_differences():
    from pipeline.experiment.stats import paired_interval

    a, b = [0.50, 0.60, 0.55, 0.52, 0.58], [0.55, 0.62, 0.61, 0.52, 0.63]
    r = paired_interval(a, b)
    # differences 0.05 0.02 0.06 0.00 0.05: mean 0.036, sd 0.02510, t(0.975, 4) = 2.7764
    assert r["mean"] == pytest.approx(0.036) and r["sd"] == pytest.approx(0.025100, abs=1e-6)
    assert (r["low"], r["high"]) == pytest.approx((0.036 - 2.7764 * 0.0251 / 5 ** 0.5,
                                                   0.036 + 2.7764 * 0.0251 / 5 ** 0.5), abs=1e-4)
    assert paired_interval([0.5], [0.6])["low"] == float("-inf")
    with pytest.raises(ValueError, match="equal"):
        paired_interval([0.5], [0.6, 0.7])
