import pytest

from pipeline.train.schedule import learning_rate


def test_warmup_then_steps():
    lrs = [learning_rate(e, 0.1, 5, [90, 100], 0.1) for e in range(110)]
    assert lrs[0] == pytest.approx(0.02) and lrs[4] == pytest.approx(0.1)
    assert lrs[89] == pytest.approx(0.1) and lrs[90] == pytest.approx(0.01)
    assert lrs[100] == pytest.approx(0.001) and lrs[109] == pytest.approx(0.001)


def test_no_warmup():
    assert learning_rate(0, 0.05, 0, [3], 0.1) == pytest.approx(0.05)
    assert learning_rate(3, 0.05, 0, [3], 0.1) == pytest.approx(0.005)


def test_optimizer_param_picks_the_papers_sgd_or_the_demos_adamw():
    import torch

    from pipeline.train.loop import build_optimizer

    w = [torch.nn.Parameter(torch.zeros(3))]
    cfg = {"optimizer": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 5e-4}
    sgd = build_optimizer(w, cfg)
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["nesterov"] and sgd.defaults["momentum"] == 0.9
    adamw = build_optimizer(w, {**cfg, "optimizer": "adamw", "weight_decay": 0.01})
    assert isinstance(adamw, torch.optim.AdamW) and adamw.defaults["weight_decay"] == 0.01
    with pytest.raises(ValueError, match="unknown train.optimizer 'adam'"):
        build_optimizer(w, {**cfg, "optimizer": "adam"})
