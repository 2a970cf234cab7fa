# manifest -> pose -> keypoints. `params:` carry the params sections a rule reads, so
# snakemake reruns a rule when they change (as DVC does from dvc.yaml's params).

import shlex

# A checkpoint: the number of pose shards (one job each) is known once the manifest exists.
checkpoint manifest:
    output:
        f"{RES}/manifest.parquet",
        f"{RES}/classes.csv",
        f"{RES}/corpus.json",
        directory(f"{RES}/knowledge"),
    params:
        dataset=config["dataset"],
        seed=config["seed"],
        synthetic=config.get("synthetic"),
        datasets=config["datasets"],
    shell:
        f"python -m pipeline manifest --out-dir {RES}" + (f" --root {shlex.quote(str(DATASET_ROOT))}"
                                                          if DATASET_ROOT is not None else "")


POSE_CMD = (f"python -m pipeline pose --manifest {RES}/manifest.parquet --corpus {RES}/corpus.json "
            f"--out {RES}/pose")
# What a shard depends on: the active backend's settings, not the others' (and not
# `workers`, which parallelises only the single-process run of dvc repro; here --cores does).
POSE_PARAMS = {k: config["pose"][k] for k in ("backend", "shard_size", "on_error", "min_decoded_fraction", "min_frames")}
POSE_PARAMS["settings"] = config["pose"].get(POSE_SETTINGS.get(config["pose"]["backend"], ""))


rule pose_shard:
    input:
        f"{RES}/manifest.parquet",
        f"{RES}/corpus.json",
    output:
        f"{RES}/pose/shard-{{shard}}.parquet",
    wildcard_constraints:
        shard=r"\d{5}",
    params:
        pose=POSE_PARAMS,
        presets=config["presets"],
    threads: 1
    shell:
        f"{POSE_CMD} --shard {{wildcards.shard}}"


# Checks the shards, then writes the index and the quarantine list (what `dvc repro`'s
# single pose stage does after computing the shards itself).
rule pose:
    input:
        f"{RES}/manifest.parquet",
        f"{RES}/corpus.json",
        pose_shard_files,
    output:
        f"{RES}/pose/index.json",
        f"{RES}/pose/quarantine.csv",
    params:
        pose=POSE_PARAMS,
        presets=config["presets"],
    shell:
        POSE_CMD


rule keypoints:
    input:
        f"{RES}/pose/index.json",
    output:
        directory(f"{RES}/keypoints"),
    params:
        keypoints=config["keypoints"],
        presets=config["presets"],
    shell:
        f"python -m pipeline keypoints --pose {RES}/pose --out {RES}/keypoints"
