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
        (f"{props}/zeroshot/{props}/streams/items", "STREAMS"),
    ]:
        assert tuple(_enums(schema, path)) == getattr(names, name), path
    weights = schema[props]["ensemble"][props]["weights"]
    assert tuple(weights[props]) == names.STREAMS


def test_the_schema_enums_are_the_registries():
    """Datasets, pose backends, description providers and keypoint presets each have one
    table, name beside implementation; the schema's enums list exactly its names."""
    from pipeline.data.adapters import DATASETS
    from pipeline.data.wholebody import PRESETS
    from pipeline.describe.stages import PROVIDERS
    from pipeline.pose.backends.registry import BACKENDS
    from pipeline.train.clips import STORES

    schema = json.loads((ROOT / "workflow/schemas/params.schema.json").read_text())
    props = "properties"
    runs = f"{props}/ablations/{props}/runs/additionalProperties/{props}"
    for path, home in [
        (f"{props}/dataset", DATASETS),
        (f"{props}/pose/{props}/backend", BACKENDS),
        (f"{props}/describe/{props}/provider", tuple(PROVIDERS)),
        (f"{props}/keypoints/{props}/preset", tuple(PRESETS)),
        (f"{props}/ablations/{props}/keypoints/items", tuple(PRESETS)),
        (f"{runs}/keypoints", tuple(PRESETS)),
        (f"{props}/train/{props}/clips/{props}/store", STORES),
    ]:
        assert tuple(_enums(schema, path)) == home, path
    assert tuple(schema[props]["presets"]["propertyNames"]["enum"]) == DATASETS
    assert tuple(schema[props]["presets"]["required"]) == DATASETS


def test_each_registry_builds_what_it_names():
    """A name in a registry is all it takes: the loader behind each name gives the thing."""
    from pipeline.data.adapters import ADAPTERS
    from pipeline.describe.stages import PROVIDERS
    from pipeline.pose.backends.registry import REGISTRY
    from pipeline.registry import load

    for name, entry in ADAPTERS.items():
        assert load(entry.target).__name__ == name
    for name in ("synthetic", "sam_slr", "pose_format"):      # the others import optional packages
        assert load(REGISTRY[name].target).name == name
    for name, target in PROVIDERS.items():
        assert load(target).name == name


def test_the_part_names_have_one_home():
    """The body-part names live beside the keypoint layout (data/wholebody.py); the text
    bank, the lexicon, the heads and the MC loss read them there."""
    from pipeline.data.wholebody import PART_NAMES

    for rel in ["text/embed.py", "describe/lexicon.py", "model/heads.py", "train/mc.py", "zeroshot/scores.py",
                "describe/openai_provider.py"]:
        assert "pipeline.data.wholebody" in _file_imports(PACKAGE / rel), rel
    assert len(set(PART_NAMES)) == len(PART_NAMES) == 5


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


def test_no_sub_package_imports_one_that_imports_it_back():
    """The layers, read from the imports: sub-packages (and top modules) form no cycle."""
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE).parts
        source = rel[0] if len(rel) > 1 else rel[0].removesuffix(".py")
        targets = {m.split(".")[1] if "." in m else "__init__" for m in _file_imports(path)}
        graph.setdefault(source, set()).update(targets - {source})

    def reachable(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    cycles = sorted((a, b) for a, targets in graph.items() for b in targets if a in reachable(b))
    assert cycles == []
    assert "train" in reachable("zeroshot") and "data" in reachable("train")    # the walk sees the edges
