# One training job per stream: results/<ds>/train/<stream>/{model.pt,scores.npz,...}.

TEXT_BANK = f"{RES}/text/{config['mc']['descriptions']}.safetensors"
TRAIN_INPUTS = [f"{RES}/keypoints", f"{RES}/manifest.parquet", f"{RES}/classes.csv", TEXT_BANK]
TRAIN_CMD = (f"python -m pipeline train --stream {{wildcards.stream}} --keypoints {RES}/keypoints "
             f"--manifest {RES}/manifest.parquet --classes {RES}/classes.csv --text {TEXT_BANK}")


def train_outputs(out_dir):
    return [f"{out_dir}/{name}" for name in ("model.pt", "scores.npz", "metrics.json", "log.csv")]


rule train:
    input:
        TRAIN_INPUTS,
    output:
        train_outputs(f"{RES}/train/{{stream}}"),
    wildcard_constraints:
        stream="|".join(STREAMS),
    params:
        seed=config["seed"],
        model=config["model"],
        train=config["train"],
        mc=config["mc"],
        presets=config["presets"],   # the file's presets (the values above have them applied)
    threads: config["train"]["threads"]   # the loop's torch intra-op threads
    shell:
        TRAIN_CMD + f" --out {RES}/train/{{wildcards.stream}}"
