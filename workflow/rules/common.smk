# Functions and values the rule files share (kept apart from the rules, as snakemake's linter
# asks). They read RES, config and ABL when called.
from pipeline.stage_code import stage_code_files
from pipeline.stage_params import lookup, stage_params

# the software of every job: the pinned pip set in a conda env (used with --sdm conda; the
# default runs in the environment snakemake runs in)
CONDA_ENV = "../envs/gspmc.yaml"


def code(command):
    """The source files `python -m pipeline <command>` runs (pipeline/stage_code.py): an edit
    reruns the stage and what follows; dvc.yaml lists the same paths."""
    return stage_code_files(command)


def values(command, **options):
    """The params.yaml keys the stage's outputs depend on (pipeline/stage_params.py), as `params:`
    (snakemake reruns a job when one changes). Taken from the config with the dataset's preset
    applied, so a preset of another dataset changes nothing here."""
    return {key.replace(".", "_"): lookup(config, key) for key in stage_params(command, **options)}


def root_option():
    """`--config dataset_root=PATH` (Snakefile): the --root of the stages that read the dataset."""
    return "" if DATASET_ROOT is None else f" --root {shlex.quote(str(DATASET_ROOT))}"


def sources_listing():
    """The digest of what the sources rule would write now (pipeline/data/sources.py)."""
    from pipeline.data.sources import record_digest, sources_record

    return record_digest(sources_record(config))


def log_file(job):
    """Per-job log: a job's stdout and stderr (logging, tqdm) go here, not to the terminal."""
    return f"{RES}/logs/{job}.log"


def benchmark_file(job):
    return f"{RES}/benchmarks/{job}.tsv"


def job_resources(kind="default"):
    """resources: from params.resources; training jobs also ask for a GPU unless train.device is cpu."""
    res = dict(config["resources"][kind])
    if kind == "train":
        res["gpu"] = 0 if config["train"]["device"] == "cpu" else 1
    return res


def pose_shard_files(wildcards):
    import math

    import pyarrow.parquet as pq

    samples = pq.ParquetFile(checkpoints.manifest.get().output.manifest).metadata.num_rows
    shards = math.ceil(samples / config["pose"]["shard_size"])
    return [f"{RES}/pose/shard-{k:05d}.parquet" for k in range(shards)]


def train_inputs(keypoints, text):
    return {"keypoints": keypoints, "manifest": f"{RES}/manifest.parquet", "classes": f"{RES}/classes.csv",
            "text": text, "code": code("train")}


def train_outputs(out_dir):
    # update(): snakemake keeps a run's previous outputs while it reruns and puts them back
    # if the rerun fails (by default it deletes them first): a failed --forcerun loses nothing
    return {name.split(".")[0]: update(f"{out_dir}/{name}")
            for name in ("model.pt", "bundle.json", "scores.npz", "metrics.json", "log.csv")}


def ablation_inputs(wildcards):
    """An ablation run's keypoints folder and text bank."""
    run = ABL["runs"][wildcards.run]
    return train_inputs(f"{RES}/keypoint_presets/{run['keypoints']}", f"{RES}/text/{run['descriptions']}.safetensors")
