# The GSP-MC DAG. Thin: params, the rule files, the final target.
# dvc.yaml describes the same stages, experiments/dvc.yaml the targets outside `all`
# (tests/test_dag.py keeps them in step).
import shlex
from pathlib import Path

from snakemake.logging import logger
from snakemake.utils import validate

from pipeline.config import apply_preset, check_snakemake_config, with_dataset_root
from pipeline.io import damaged_folders
from pipeline.names import STREAMS, VARIANTS

configfile: "params.yaml"
# `--config dataset_root=PATH`, the one override the stages are given (the manifest's --root);
# every other knob is read from params.yaml by the stages themselves
DATASET_ROOT = config.pop("dataset_root", None)
validate(config, "workflow/schemas/params.schema.json")
check_snakemake_config(config)    # stages read params.yaml: refuse --config overrides
config.update(apply_preset(dict(config)))   # what the stages run with: presets.<dataset> applied
if DATASET_ROOT is not None:
    with_dataset_root(config, DATASET_ROOT)

DS = config["dataset"]
RES = f"results/{DS}"

# light jobs run where snakemake runs, never submitted to a cluster
localrules: all, ensemble, figures, describe_page, tables

include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/describe.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/ablations.smk"
include: "workflow/rules/zeroshot.smk"
include: "workflow/rules/report.smk"


# Folder outputs prove themselves (MANIFEST.json, pipeline/io.py). Snakemake does not rebuild
# a damaged or missing intermediate once the outputs after it exist (it compares times, and
# checksums of small inputs), so a folder that fails the cheap check is named here with the
# rule to force; the stage that reads it refuses it in any case.
FOLDER_RULES = {
    f"{RES}/knowledge": "manifest",
    f"{RES}/kb_index": "kb_index",
    f"{RES}/pose": "pose",
    f"{RES}/keypoints": "keypoints",
    **{str(d): "keypoint_preset" for d in Path(f"{RES}/keypoint_presets").glob("*")},
}
for folder, problem in damaged_folders(FOLDER_RULES).items():
    logger.warning(f"{folder} is damaged: {problem}. Rebuild it (and what follows) with: "
                   f"snakemake --cores N all --forcerun {FOLDER_RULES[folder]}")


rule all:
    default_target: True   # `snakemake --cores N` alone builds this
    input:
        f"{RES}/metrics.json",
        expand(f"{RES}/text/{{variant}}.safetensors", variant=config["describe"]["variants"]),
        # what `snakemake --report` shows (workflow/rules/report.smk): figures, description pages
        rules.figures.output,
        expand(f"{RES}/descriptions/{{variant}}.html", variant=config["describe"]["variants"]),
