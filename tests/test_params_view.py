"""A stage reads only the params its outputs are declared to depend on (issue 29): the view the
CLI hands each stage (pipeline/params_view.py) raises on any other key, naming stage and key. The
end-to-end tests run every stage of the tiny DAG through it, so an undeclared read fails them."""
import logging

import pytest
from conftest import tiny_params

from pipeline import cli
from pipeline.params_view import ParamsView, UndeclaredParam, declared_view
from pipeline.stage_params import UNUSED_KEYS, stage_params


def _view():
    params = {"dataset": "demo", "seed": 3, "train": {"lr": 0.1, "epochs": 2},
              "pose": {"backend": "synthetic", "workers": 2, "shard_size": 8}}
    return ParamsView(params, frozenset({"dataset", "train", "pose.backend"}), "demo-stage")


def test_declared_keys_read_as_their_values_and_others_raise_naming_stage_and_key():
    view = _view()
    assert view["dataset"] == "demo" and view["train"] == {"lr": 0.1, "epochs": 2}
    assert isinstance(view["train"], dict)                    # a section declared whole is the plain dict
    assert view["pose"]["backend"] == "synthetic"
    with pytest.raises(UndeclaredParam, match=r"stage demo-stage read params key 'seed'.*STAGE_PARAMS\['demo-stage'\]"):
        view["seed"]
    with pytest.raises(UndeclaredParam, match="'pose.workers'"):
        view["pose"]["workers"]
    with pytest.raises(UndeclaredParam):                      # .get must not turn it into a default
        view.get("seed", 0)
    with pytest.raises(KeyError):                             # an absent key is absent, as in a dict
        view["nope"]
    assert dict(view["pose"]) == {"backend": "synthetic"} and set(view) == {"dataset", "train", "pose"}
    assert {**view}["dataset"] == "demo"


def test_every_stage_may_read_its_declared_keys_and_the_unused_ones():
    params = tiny_params()
    view = declared_view(params, stage_params("describe"), "describe")
    assert view["describe"]["openai"]["base_url"] == params["describe"]["openai"]["base_url"]
    assert view["describe"]["cache_dir"] == params["describe"]["cache_dir"]      # UNUSED_KEYS: no result
    assert "describe.cache_dir" in UNUSED_KEYS
    with pytest.raises(UndeclaredParam, match="'train'"):
        view["train"]


def test_the_cli_hands_a_stage_the_view(monkeypatch, tmp_path, caplog):
    """A stage that reads an undeclared key fails with the one-line error, through the CLI."""
    import yaml

    from pipeline.evaluate import stages

    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params()))

    def reads_too_much(params, train_dir, out, run):
        return params["train"]["epochs"]                      # the ensemble stage declares dataset, ensemble

    monkeypatch.setattr(stages, "run_ensemble", reads_too_much)
    with caplog.at_level(logging.ERROR):
        code = cli.main(["--params", str(tmp_path / "params.yaml"), "ensemble", "--train-dir", str(tmp_path),
                         "--out", str(tmp_path / "m.json"), "--run", str(tmp_path / "run.json")])
    assert code == 2
    assert "ensemble failed: stage ensemble read params key 'train'" in caplog.text
