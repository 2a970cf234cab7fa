# One training job per stream: results/<ds>/train/<stream>/{model.pt,scores.npz,...}.

rule train:
    input:
        f"{RES}/keypoints",
        f"{RES}/manifest.parquet",
        f"{RES}/classes.csv",
        f"{RES}/text/{config['mc']['descriptions']}.safetensors",
    output:
        f"{RES}/train/{{stream}}/model.pt",
        f"{RES}/train/{{stream}}/scores.npz",
        f"{RES}/train/{{stream}}/metrics.json",
        f"{RES}/train/{{stream}}/log.csv",
    wildcard_constraints:
        stream="|".join(STREAMS),
    params:
        seed=config["seed"],
        model=config["model"],
        train=config["train"],
        mc=config["mc"],
    threads: config["train"]["threads"]   # the loop's torch intra-op threads
    shell:
        f"python -m pipeline train --stream {{wildcards.stream}} --keypoints {RES}/keypoints "
        f"--manifest {RES}/manifest.parquet --classes {RES}/classes.csv "
        f"--text {RES}/text/{config['mc']['descriptions']}.safetensors --out {RES}/train/{{wildcards.stream}}"
