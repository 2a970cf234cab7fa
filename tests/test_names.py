"""One home per shared vocabulary (pipeline/names.py), and the package's layers: train and
evaluate meet only in the modules at the bottom (metrics, names, io, ...), never import each
other."""
import json

from conftest import ROOT
from pipeline import names
from pipeline.stage_code import PACKAGE, _file_imports


def _enums(schema: dict, path: str) -> list:
    node = schema
    for key in path.split("/"):
        node = node[key]
    return node["enum"]


def test_the_schema_enums_are_the_names():
    schema = json.loads((ROOT / "workflow/schemas/params.schema.json").read_text())
    props = "properties"
    for path, name in [
        (f"{props}/describe/{props}/variants/items", "VARIANTS"),
        (f"{props}/mc/{props}/descriptions", "VARIANTS"),
        (f"{props}/zeroshot/{props}/variants/items", "VARIANTS"),
        (f"{props}/ablations/{props}/runs/additionalProperties/{props}/descriptions", "VARIANTS"),
        (f"{props}/mc/{props}/terms/items", "MC_TERMS"),
        (f"{props}/zeroshot/{props}/terms/items", "MC_TERMS"),
        (f"{props}/ablations/{props}/runs/additionalProperties/{props}/terms/items", "MC_TERMS"),
        (f"{props}/experiments/{props}/mc/{props}/arms/additionalProperties/items", "MC_TERMS"),
        (f"{props}/ablations/{props}/runs/additionalProperties/{props}/stream", "STREAMS"),
        (f"{props}/zeroshot/{props}/stream", "STREAMS"),
    ]:
        assert tuple(_enums(schema, path)) == getattr(names, name), path
    weights = schema[props]["ensemble"][props]["weights"]
    assert tuple(weights[props]) == names.STREAMS


def test_the_cli_offers_the_names():
    from pipeline.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "stage")
    options = {a.dest: a.choices for a in sub.choices["train"]._actions} | \
              {a.dest: a.choices for a in sub.choices["describe"]._actions}
    assert tuple(options["stream"]) == names.STREAMS and tuple(options["variant"]) == names.VARIANTS


def _imports_of(package: str) -> set[str]:
    return {m for path in (PACKAGE / package).rglob("*.py") for m in _file_imports(path)}


def test_train_and_evaluate_do_not_import_each_other():
    assert not {m for m in _imports_of("train") if m.startswith("pipeline.evaluate")}
    assert not {m for m in _imports_of("evaluate") if m.startswith("pipeline.train")}
    assert _file_imports(PACKAGE / "names.py") == frozenset()     # the bottom: it imports nothing of ours
