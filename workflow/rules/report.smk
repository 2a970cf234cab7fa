# What `snakemake --report report.html` shows that no other stage writes: each stream's
# training curves and the ensemble's test confusion matrix (figures, in `all`), and the
# description reports as HTML pages (snakemake's report shows .html and images inline,
# .md, .csv and .json only as downloads). Other rules mark their own outputs with report():
# metrics.json (evaluate.smk), Tables 2-6 and Fig. 6 (ablations.smk). Captions: workflow/report/.

report: "../report/workflow.rst"

FIGURES = f"{RES}/figures"


rule figures:
    input:
        run=rules.ensemble.output.run,
        classes=rules.manifest.output.classes,
        logs=expand(f"{RES}/train/{{stream}}/log.csv", stream=STREAMS),
        scores=expand(f"{RES}/train/{{stream}}/scores.npz", stream=STREAMS),
        code=code("figures"),
    output:
        [report(f"{FIGURES}/curves-{stream}.png", caption="../report/curves.rst", category="Training curves",
                labels={"stream": stream}) for stream in STREAMS],
        report(f"{FIGURES}/confusion.png", caption="../report/confusion.rst", category="Evaluation",
               labels={"result": "confusion matrix (ensemble, test)"}),
        # the same test predictions as rows (sample, actual, predicted): dvc plots' confusion matrix
        predictions=f"{FIGURES}/predictions.csv",
    params:
        out_dir=subpath(output.predictions, parent=True),
    log:
        log_file("figures"),
    resources:
        **job_resources(),
    conda:
        CONDA_ENV
    shell:
        "python -m pipeline figures --run {input.run} --classes {input.classes} --out-dir {params.out_dir} > {log} 2>&1"


rule describe_page:
    input:
        markdown=rules.describe.output.report,
        code=code("page"),
    output:
        report(f"{RES}/descriptions/{{variant}}.html", caption="../report/descriptions.rst",
               category="Descriptions", labels={"variant": "{variant}"}),
    wildcard_constraints:
        variant="|".join(VARIANTS),
    log:
        log_file("describe_page/{variant}"),
    resources:
        **job_resources(),
    conda:
        CONDA_ENV
    shell:
        "python -m pipeline page --markdown {input.markdown} --out {output} > {log} 2>&1"
