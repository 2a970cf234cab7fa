# manifest -> pose -> keypoints. `params:` carry the params sections a rule reads, so
# snakemake reruns a rule when they change (as DVC does from dvc.yaml's params).

rule manifest:
    output:
        f"{RES}/manifest.parquet",
        f"{RES}/classes.csv",
        f"{RES}/corpus.json",
        directory(f"{RES}/knowledge"),
    params:
        dataset=config["dataset"],
        seed=config["seed"],
        synthetic=config.get("synthetic"),
    shell:
        f"python -m pipeline manifest --out-dir {RES}"


rule pose:
    input:
        f"{RES}/manifest.parquet",
        f"{RES}/corpus.json",
    output:
        directory(f"{RES}/pose"),
    params:
        pose=config["pose"],
    shell:
        f"python -m pipeline pose --manifest {RES}/manifest.parquet --corpus {RES}/corpus.json --out {RES}/pose"


rule keypoints:
    input:
        f"{RES}/pose",
    output:
        directory(f"{RES}/keypoints"),
    params:
        keypoints=config["keypoints"],
    shell:
        f"python -m pipeline keypoints --pose {RES}/pose --out {RES}/keypoints"
