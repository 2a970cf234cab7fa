"""Params that should be errors are errors, each naming what is wrong."""
import pytest
import yaml
from conftest import tiny_params

from pipeline.config import ParamsError, read_params, validate_params, with_dataset_root


def test_a_duplicated_yaml_key_is_an_error_naming_both_lines(tmp_path):
    path = tmp_path / "params.yaml"
    text = yaml.safe_dump(tiny_params(), sort_keys=False)
    path.write_text(text.replace("\ntrain:\n", "\ntrain:\n  epochs: 99\n", 1))
    with pytest.raises(ParamsError, match=r"params.yaml: duplicate key 'epochs' at line \d+ \(first at line \d+\)"):
        read_params(path)
    path.write_text(text + "seed: 3\n")          # at the top level too
    with pytest.raises(ParamsError, match="duplicate key 'seed'"):
        read_params(path)


def test_every_missing_key_is_named(tmp_path):
    p = tiny_params()
    del p["train"]["epochs"], p["train"]["lr"], p["model"]["dropout"]
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(p))
    with pytest.raises(ParamsError) as err:
        read_params(path)
    lines = str(err.value).splitlines()[1:]
    assert {"  train.epochs: required key missing", "  train.lr: required key missing",
            "  model.dropout: required key missing"} <= set(lines)


@pytest.mark.parametrize("mutate,needle", [
    (lambda p: p["model"].update(stride_units=[99]), r"model.stride_units: \[99\] outside the units 1..3"),
    (lambda p: p["model"].update(num_units=2, stride_units=[3]), r"model.stride_units: \[3\]"),
    (lambda p: p["ensemble"]["weights"].update({k: 0 for k in p["ensemble"]["weights"]}),
     "ensemble.weights are all zero"),
    (lambda p: p["model"].update(temporal_kernel=4), "model.temporal_kernel: 4 is even"),
    (lambda p: p["ensemble"]["weights"].pop("bone_motion"), "ensemble.weights.bone_motion: required key missing"),
    (lambda p: p["describe"]["openai"].update(base_url="https://me:pw@llm.example.com/v1"),
     r"describe.openai.base_url holds a credential \(user name or password"),
    (lambda p: p["describe"]["openai"].update(base_url="https://llm.example.com/v1?api-version=2&api-key=x"),
     r"describe.openai.base_url holds a credential \(query parameter 'api-key'\).*describe.openai.query_env"),
])
def test_cross_field_checks(mutate, needle):
    p = tiny_params()
    mutate(p)
    with pytest.raises(ParamsError, match=needle):
        validate_params(p)


def test_dataset_root_override_needs_a_dataset_read_from_disk():
    p = tiny_params()
    with pytest.raises(ParamsError, match="'demo' is generated, it has no root"):
        with_dataset_root(p, "/data/x")
    p["dataset"] = "slr500"
    with pytest.raises(ParamsError, match="dataset_root= is empty"):
        with_dataset_root(p, "")
    assert with_dataset_root(p, "/data/slr")["datasets"]["slr500"]["root"] == "/data/slr"
