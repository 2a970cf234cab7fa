# One training job per stream: results/<ds>/train/<stream>/{model.pt,scores.npz,...}.

TEXT_BANK = f"{RES}/text/{config['mc']['descriptions']}.safetensors"


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
    return [update(f"{out_dir}/{name}") for name in ("model.pt", "scores.npz", "metrics.json", "log.csv")]


rule train:
    input:
        train_inputs(f"{RES}/keypoints", TEXT_BANK),
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
        cmd=lambda wc: train_cmd(wc.stream, f"{RES}/keypoints", TEXT_BANK, f"{RES}/train/{wc.stream}"),
    threads: config["train"]["threads"]   # the loop's torch intra-op threads
    shell:
        "{params.cmd}"
