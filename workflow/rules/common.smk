# Functions the rule files share or call from input/shell functions (kept apart from the
# rules, as snakemake's linter asks). They read RES, config and ABL when called.


def pose_shard_files(wildcards):
    import math

    import pyarrow.parquet as pq

    samples = pq.ParquetFile(checkpoints.manifest.get().output[0]).metadata.num_rows
    shards = math.ceil(samples / config["pose"]["shard_size"])
    return [f"{RES}/pose/shard-{k:05d}.parquet" for k in range(shards)]


def train_inputs(keypoints, text):
    return [keypoints, f"{RES}/manifest.parquet", f"{RES}/classes.csv", text]


def train_cmd(stream, keypoints, text, out, ablation=None):
    """The train command of the main streams and of the ablation runs (one shape, as in dvc.yaml)."""
    extra = f" --ablation {ablation}" if ablation else ""
    return (f"python -m pipeline train --stream {stream} --keypoints {keypoints} --manifest {RES}/manifest.parquet "
            f"--classes {RES}/classes.csv --text {text}{extra} --out {out}")


def train_outputs(out_dir):
    # update(): snakemake keeps a run's previous outputs while it reruns and puts them back
    # if the rerun fails (by default it deletes them first): a failed --forcerun loses nothing
    return [update(f"{out_dir}/{name}") for name in ("model.pt", "bundle.json", "scores.npz", "metrics.json", "log.csv")]


def run_paths(name):
    """An ablation run's keypoints folder and text bank."""
    run = ABL["runs"][name]
    return f"{RES}/keypoint_presets/{run['keypoints']}", f"{RES}/text/{run['descriptions']}.safetensors"


def ablation_inputs(wildcards):
    return train_inputs(*run_paths(wildcards.run))


def ablation_cmd(wildcards):
    return train_cmd(ABL["runs"][wildcards.run]["stream"], *run_paths(wildcards.run),
                     f"{RES}/ablations/{wildcards.run}", ablation=wildcards.run)
