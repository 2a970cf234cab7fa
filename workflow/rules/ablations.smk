# Paper Table 5, kept out of `all`: `snakemake --cores N ablations` trains every
# (ablation, stream) in params.ablations and writes results/<ds>/tables/table5.{md,csv}.
# experiments/dvc.yaml holds the same stages for `dvc repro experiments/dvc.yaml`.

ABL = config["ablations"]


rule ablate:
    input:
        TRAIN_INPUTS,
    output:
        train_outputs(f"{RES}/ablations/{{ablation}}/{{stream}}"),
    wildcard_constraints:
        ablation="|".join(ABL["run"]) or "$^",
        stream="|".join(STREAMS),
    params:
        seed=config["seed"],
        model=config["model"],
        train=config["train"],
        mc=config["mc"],
        presets=config["presets"],   # the file's presets (the values above have them applied)
        ablations=lambda wc: ABL["terms"][wc.ablation],   # only this ablation's terms
    threads: config["train"]["threads"]
    shell:
        TRAIN_CMD + f" --ablation {{wildcards.ablation}} --out {RES}/ablations/{{wildcards.ablation}}/{{wildcards.stream}}"


rule ablation_table:
    input:
        expand(f"{RES}/ablations/{{ablation}}/{{stream}}/metrics.json", ablation=ABL["run"], stream=ABL["streams"]),
    output:
        f"{RES}/tables/table5.md",
        f"{RES}/tables/table5.csv",
    params:
        ablations=ABL,
    shell:
        f"python -m pipeline ablation-table --ablations-dir {RES}/ablations --out-dir {RES}/tables"


rule ablations:
    input:
        rules.ablation_table.output,
