# Zero-shot recognition from description texts, outside `all`: `snakemake --cores 1 zeroshot`
# trains zeroshot.stream on the seen classes once per zeroshot.variants and scores the held-out
# classes by their texts -> results/<ds>/zeroshot/metrics.{json,md} (training runs in runs/<variant>/).
# experiments/dvc.yaml holds the same stage for DVC.

ZS = config["zeroshot"]


rule zeroshot:
    input:
        f"{RES}/keypoints",
        f"{RES}/manifest.parquet",
        f"{RES}/classes.csv",
        expand(f"{RES}/text/{{variant}}.safetensors", variant=ZS["variants"]),
    output:
        f"{RES}/zeroshot/metrics.json",
        f"{RES}/zeroshot/metrics.md",
        report(f"{RES}/zeroshot/metrics.html", caption="../report/zeroshot.rst", category="Zero-shot",
               labels={"result": "unseen classes from their texts"}),
    params:
        seed=config["seed"],
        model=config["model"],
        train=config["train"],
        mc=config["mc"],
        presets=config["presets"],   # the file's presets (the values above have them applied)
        zeroshot=ZS,
    threads: config["train"]["threads"]   # the loop's torch intra-op threads
    shell:
        f"python -m pipeline zeroshot --keypoints {RES}/keypoints --manifest {RES}/manifest.parquet "
        f"--classes {RES}/classes.csv --text-dir {RES}/text --out-dir {RES}/zeroshot"
