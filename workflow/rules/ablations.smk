# The paper's ablation runs and tables, kept out of `all`: `snakemake --cores N tables`
# runs whatever Tables 2-6 need that is missing (the main DAG, one keypoints job per
# preset in params.ablations.keypoints, one training per run in params.ablations.runs)
# and writes results/<ds>/tables/. experiments/dvc.yaml holds the same stages for DVC.

ABL = config["ablations"]
TABLE_FILES = [f"table{k}.{ext}" for k in range(2, 7) for ext in ("md", "csv")] + \
    ["classwise.md", "classwise.csv", "confusion.md"]
# what snakemake's report shows, in category "Tables (paper)" (HTML pages of the .md files,
# and Fig. 6): file -> (caption, subcategory, label)
TABLE_REPORT = {
    **{f"table{k}.html": ("tables.rst", "Tables 2-6", f"Table {k}: {what}") for k, what in (
        (2, "streams and ensemble"), (3, "AUTSL"), (4, "description sources"), (5, "MC terms"),
        (6, "keypoint presets"))},
    "classwise.png": ("classwise.rst", "Fig. 6 and confusions", "Fig. 6: class-wise gain (plot)"),
    "classwise.html": ("classwise.rst", "Fig. 6 and confusions", "Fig. 6: largest gains and drops"),
    "confusion.html": ("confusion_summary.rst", "Fig. 6 and confusions", "most frequent confusions (GSP-MC run)"),
}


rule keypoint_preset:
    input:
        index=rules.pose.output.index,
        code=code("keypoints"),
    output:
        directory(f"{RES}/keypoint_presets/{{preset}}"),
    wildcard_constraints:
        preset="|".join(ABL["keypoints"]) or "$^",
    params:
        **values("keypoints", preset=True),
        pose_dir=subpath(input.index, parent=True),
    log:
        log_file("keypoint_presets/{preset}"),
    resources:
        **job_resources(),
    conda:
        CONDA_ENV
    shell:
        "python -m pipeline keypoints --pose {params.pose_dir} --out {output} --preset {wildcards.preset} > {log} 2>&1"


rule ablate:
    input:
        unpack(ablation_inputs),
    output:
        **train_outputs(f"{RES}/ablations/{{run}}"),
    wildcard_constraints:
        run="|".join(ABL["runs"]) or "$^",
    params:
        **values("train"),
        run=lambda wildcards: ABL["runs"][wildcards.run],   # ablations.runs.<run>: its terms, texts, keypoints, stream
        stream=lambda wildcards: ABL["runs"][wildcards.run]["stream"],
        out_dir=subpath(output.model, parent=True),
    log:
        log_file("ablations/{run}"),
    benchmark:
        benchmark_file("ablations/{run}")
    threads: config["train"]["threads"]
    resources:
        **job_resources("train"),
    retries: config["resources"]["train_retries"]   # a retry resumes from the last epoch's checkpoint
    conda:
        CONDA_ENV
    shell:
        "python -m pipeline train --stream {params.stream} --keypoints {input.keypoints} --manifest {input.manifest} "
        "--classes {input.classes} --text {input.text} --ablation {wildcards.run} --out {params.out_dir} > {log} 2>&1"


rule tables:
    input:
        metrics=rules.ensemble.output.metrics,
        classes=rules.manifest.output.classes,
        runs=expand(f"{RES}/ablations/{{run}}/metrics.json", run=list(ABL["runs"])),
        scores=expand(f"{RES}/ablations/{{run}}/scores.npz", run=list(ABL["runs"])),
        code=code("tables"),
    output:
        [f"{RES}/tables/{name}" for name in TABLE_FILES],
        [report(f"{RES}/tables/{name}", caption=f"../report/{caption}", category="Tables (paper)",
                subcategory=sub, labels={"table": label}) for name, (caption, sub, label) in TABLE_REPORT.items()],
    params:
        **values("tables"),
        results=subpath(input.metrics, parent=True),
        out_dir=lambda wildcards, output: Path(output[0]).parent,
    log:
        log_file("tables"),
    resources:
        **job_resources(),
    conda:
        CONDA_ENV
    shell:
        "python -m pipeline tables --results {params.results} --out-dir {params.out_dir} > {log} 2>&1"
