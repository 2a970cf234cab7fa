"""Loading and validating params.yaml against workflow/schemas/params.schema.json."""
from __future__ import annotations

import copy
import json
import math
from importlib import resources
from pathlib import Path

import jsonschema
import yaml

from .credentials import url_credentials


class ParamsError(ValueError):
    """params.yaml is missing, malformed, or breaks the schema; the message names the key."""


def schema() -> dict:
    """The params schema. It ships inside the package: pipeline/params.schema.json is a
    link to workflow/schemas/params.schema.json (what snakemake's `validate` reads), and
    packaging copies the file it points to, so an installed `gspmc` validates as the
    workflow does."""
    return json.loads(resources.files("pipeline").joinpath("params.schema.json").read_text())


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys; a params file that says a thing twice is
    ambiguous, so it is an error naming the key and both lines."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise ParamsError(f"duplicate key {key!r} at line {key_node.start_mark.line + 1} "
                                  f"(first at line {seen[key] + 1})")
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def load_yaml(text: str):
    return yaml.load(text, Loader=_UniqueKeyLoader)


def _error_lines(error: jsonschema.ValidationError) -> list[str]:
    """One line per offending key: the key itself, not just its parent, and every missing
    key of a mapping, not only the first."""
    path = [str(p) for p in error.absolute_path]
    message, keys = error.message, [""]
    if error.validator == "additionalProperties":
        keys = sorted(set(error.instance) - set(error.schema.get("properties", {}))) or keys
    elif error.validator == "required":
        message, keys = "required key missing", [k for k in error.validator_value if k not in error.instance]
    return [f"  {'.'.join(filter(None, path + [k])) or '<top level>'}: {message}" for k in keys]


def check_schema(params: dict, source: str) -> None:
    if not isinstance(params, dict):
        raise ParamsError(f"{source}: expected a mapping at the top level, got {type(params).__name__}")
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(params), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [line for e in errors for line in _error_lines(e)]
        raise ParamsError(f"{source}: invalid params\n" + "\n".join(lines))


def val_split_left_out_by(params: dict) -> str | None:
    """The param that leaves the dataset without a validation split (said as a clause), or
    None when the dataset has one, or when its data decide (a byo csv with no val rows)."""
    dataset = params["dataset"]
    if dataset == "slr500" and not params["datasets"]["slr500"]["val_signers"]:
        return f"datasets.slr500.val_signers is {json.dumps(params['datasets']['slr500']['val_signers'])}"
    byo = params["datasets"]["byo"]
    if dataset == "byo" and byo["root"] and not byo["csv"] and byo["val_fraction"] == 0:
        return "datasets.byo.val_fraction is 0"
    return None


def holdout_count(holdout: float | int, num_classes: int) -> int:
    """``zeroshot.holdout`` as a number of classes: a fraction in (0, 1) of the classes,
    rounded half up (a quarter of 30 is 8), or a count. Both sides keep 2 classes at least:
    one unseen class is recognised by elimination, one seen class trains no contrast."""
    is_fraction = isinstance(holdout, float) and not float(holdout).is_integer()
    count = int(math.floor(holdout * num_classes + 0.5)) if is_fraction else int(holdout)
    if not 2 <= count <= num_classes - 2:
        raise ValueError(f"zeroshot.holdout: {holdout} holds out {count} of the {num_classes} classes; a zero-shot "
                         f"run needs 2 unseen and 2 seen classes at least (2..{num_classes - 2} classes, or a "
                         f"fraction that gives as many)")
    return count


# which MC terms train the projection each zero-shot feature kind is scored by
ZEROSHOT_FEATURE_TERMS = {"global": ("global", "synonym"), "parts": ("parts",)}


def check_zeroshot(params: dict, source: str) -> None:
    """zeroshot: its variants must be described, its scored features trained, and (on the
    demo, whose class count params know) its two held-out sets must leave 2 seen classes."""
    zs = params["zeroshot"]
    missing = [v for v in zs["variants"] if v not in params["describe"]["variants"]]
    if missing:
        raise ParamsError(f"{source}: zeroshot.variants: {missing} not among describe.variants "
                          f"{params['describe']['variants']}")
    for kind in {k for candidate in zs["features"] for k in candidate}:
        if not set(ZEROSHOT_FEATURE_TERMS[kind]) & set(zs["terms"]):
            raise ParamsError(f"{source}: zeroshot.features: {kind!r} scores with a projection no term in "
                              f"zeroshot.terms {zs['terms']} trains: add {' or '.join(ZEROSHOT_FEATURE_TERMS[kind])}")
    if params["dataset"] == "demo" and "synthetic" in params:
        try:
            holdout_sizes(zs, params["synthetic"]["classes"])
        except ValueError as exc:
            raise ParamsError(f"{source}: {exc} (synthetic.classes)") from exc


def holdout_sizes(zs: dict, num_classes: int) -> tuple[int, int]:
    """(test-unseen, validation-unseen) class counts; 2 seen classes must remain."""
    n_test = holdout_count(zs["holdout"], num_classes)
    n_val = holdout_count(zs["val_holdout"], num_classes)
    if n_test + n_val > num_classes - 2:
        raise ValueError(f"zeroshot.holdout {zs['holdout']} and zeroshot.val_holdout {zs['val_holdout']} hold out "
                         f"{n_test} + {n_val} of the {num_classes} classes; 2 must stay seen")
    return n_test, n_val


def validate_params(params: dict, source: str = "params") -> dict:
    check_schema(params, source)
    if params["dataset"] == "demo" and "synthetic" not in params:
        raise ParamsError(f"{source}: synthetic: required when dataset is 'demo'")
    if params["describe"]["provider"] == "offline" and "llm" in params["describe"]["variants"]:
        raise ParamsError(f"{source}: describe.variants: 'llm' (an LLM without the knowledge base) needs "
                          f"describe.provider: openai")
    if params["mc"]["descriptions"] not in params["describe"]["variants"]:
        raise ParamsError(f"{source}: mc.descriptions: {params['mc']['descriptions']!r} is not among "
                          f"describe.variants {params['describe']['variants']}")
    for name, run in params["ablations"]["runs"].items():
        if run["keypoints"] not in params["ablations"]["keypoints"]:
            raise ParamsError(f"{source}: ablations.runs.{name}.keypoints: {run['keypoints']!r} is not among "
                              f"ablations.keypoints {params['ablations']['keypoints']}")
        if run["descriptions"] not in params["describe"]["variants"]:
            raise ParamsError(f"{source}: ablations.runs.{name}.descriptions: {run['descriptions']!r} is not among "
                              f"describe.variants {params['describe']['variants']}")
    credentials = url_credentials(params["describe"]["openai"]["base_url"])
    if credentials:
        raise ParamsError(f"{source}: describe.openai.base_url holds a credential ({credentials[0]}), which dvc.lock, "
                          f"logs and caches would record: keep it in an environment variable and name it, the "
                          f"bearer key in describe.openai.api_key_env, a query parameter in describe.openai.query_env")
    check_zeroshot(params, source)
    synthetic_backend = params["pose"]["backend"] == "synthetic"
    if synthetic_backend != (params["dataset"] == "demo"):
        raise ParamsError(f"{source}: pose.backend: {params['pose']['backend']!r} with dataset "
                          f"{params['dataset']!r}: the synthetic backend renders the demo corpus, which has "
                          f"no videos, and it is the only one that can")
    no_val = val_split_left_out_by(params)
    if no_val and params["ensemble"]["tune_on_val"]:
        raise ParamsError(f"{source}: ensemble.tune_on_val: true tunes the stream weights on the validation split, "
                          f"but {no_val} (no validation split): set ensemble.tune_on_val: false to use "
                          f"ensemble.weights, or give the dataset a validation split")
    synth = params.get("synthetic")
    if synth and synth["val_signers"] + synth["test_signers"] >= synth["signers"]:
        raise ParamsError(f"{source}: synthetic.val_signers + synthetic.test_signers must be "
                          f"below synthetic.signers ({synth['signers']})")
    model = params["model"]
    if model["temporal_kernel"] % 2 == 0:
        raise ParamsError(f"{source}: model.temporal_kernel: {model['temporal_kernel']} is even; the temporal "
                          f"convolution keeps a clip's length only with an odd kernel (3, 5, 7, ...)")
    outside = [u for u in model["stride_units"] if not 1 <= u <= model["num_units"]]
    if outside:
        raise ParamsError(f"{source}: model.stride_units: {outside} outside the units 1..{model['num_units']} "
                          f"(model.num_units)")
    if not any(params["ensemble"]["weights"].values()):
        raise ParamsError(f"{source}: ensemble.weights are all zero: the ensemble would score every class 0")
    return params


def with_dataset_root(params: dict, root: str) -> dict:
    """``snakemake --config dataset_root=PATH``: the dataset's root, for datasets read from
    disk. The demo is generated and has none."""
    section = params["datasets"].get(params["dataset"])
    if section is None or "root" not in section:
        raise ParamsError(f"--config dataset_root={root}: dataset {params['dataset']!r} is generated, it has no "
                          f"root to override; it applies to "
                          f"{', '.join(k for k, v in params['datasets'].items() if 'root' in v)}")
    if not root:
        raise ParamsError("--config dataset_root= is empty: give the folder of the dataset")
    params["datasets"][params["dataset"]]["root"] = str(root)
    return params


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) \
            else copy.deepcopy(value)
    return out


def apply_preset(params: dict, source: str = "params") -> dict:
    """The params the stages run with: presets.<dataset> (when there is one) laid over
    the sections it names, then checked as a whole (schema and cross-field checks)."""
    preset = params.get("presets", {}).get(params["dataset"])
    if not preset:
        return validate_params(params, source)
    return validate_params(deep_merge(params, preset), f"{source} with presets.{params['dataset']} applied")


def read_params(path: str | Path = "params.yaml") -> dict:
    """params.yaml as written, schema-checked; the cross-field checks run on the effective
    params (load_params), since a preset may supply what the file alone lacks."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: params file not found (run from the project root or pass --params)")
    try:
        params = load_yaml(path.read_text())
    except ParamsError as exc:
        raise ParamsError(f"{path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: not valid YAML: {exc}") from exc
    check_schema(params, str(path))
    return params


def load_params(path: str | Path = "params.yaml") -> dict:
    """The effective params: params.yaml with its dataset's preset applied."""
    return apply_preset(read_params(path), str(path))


def check_snakemake_config(config: dict, path: str | Path = "params.yaml") -> None:
    """The stages read params.yaml themselves, so snakemake's config must be exactly
    that file: a `--config key=value` override would change the plan but not the runs."""
    on_disk = read_params(path)
    if dict(config) != on_disk:
        raise ParamsError(f"snakemake's config differs from {path}: --config/--configfile overrides "
                          f"are not passed to the stages; edit {path} (or use `dvc exp run -S`)")
