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
        f"{RES}/pose/index.json",
    output:
        directory(f"{RES}/keypoint_presets/{{preset}}"),
    wildcard_constraints:
        preset="|".join(ABL["keypoints"]) or "$^",
    params:
        keypoints=config["keypoints"],
        presets=config["presets"],
    shell:
        f"python -m pipeline keypoints --pose {RES}/pose --out {RES}/keypoint_presets/{{wildcards.preset}} "
        f"--preset {{wildcards.preset}}"


rule ablate:
    input:
        ablation_inputs,
    output:
        train_outputs(f"{RES}/ablations/{{run}}"),
    wildcard_constraints:
        run="|".join(ABL["runs"]) or "$^",
    params:
        seed=config["seed"],
        model=config["model"],
        train=config["train"],
        mc=config["mc"],
        presets=config["presets"],   # the file's presets (the values above have them applied)
        ablations=lambda wc: ABL["runs"][wc.run],   # only this run's settings
        cmd=ablation_cmd,
    threads: config["train"]["threads"]
    shell:
        "{params.cmd}"


rule tables:
    input:
        f"{RES}/metrics.json",
        f"{RES}/classes.csv",
        expand(f"{RES}/ablations/{{run}}/metrics.json", run=list(ABL["runs"])),
        expand(f"{RES}/ablations/{{run}}/scores.npz", run=list(ABL["runs"])),
    output:
        [f"{RES}/tables/{name}" for name in TABLE_FILES],
        [report(f"{RES}/tables/{name}", caption=f"../report/{caption}", category="Tables (paper)",
                subcategory=sub, labels={"table": label}) for name, (caption, sub, label) in TABLE_REPORT.items()],
    params:
        ablations=ABL,
        mc=config["mc"],
        keypoints=config["keypoints"],
        describe=config["describe"],
    shell:
        f"python -m pipeline tables --results results --out-dir {RES}/tables"
