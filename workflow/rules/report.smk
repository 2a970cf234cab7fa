# What `snakemake --report report.html` shows that no other stage writes: each stream's
# training curves and the ensemble's test confusion matrix (figures, in `all`), and the
# description reports as HTML pages (snakemake's report shows .html and images inline,
# .md, .csv and .json only as downloads). Other rules mark their own outputs with report():
# metrics.json (evaluate.smk), Tables 2-6 and Fig. 6 (ablations.smk). Captions: workflow/report/.

report: "../report/workflow.rst"

FIGURES = f"{RES}/figures"


rule figures:
    input:
        f"{RES}/run.json",
        f"{RES}/classes.csv",
        expand(f"{RES}/train/{{stream}}/log.csv", stream=STREAMS),
        expand(f"{RES}/train/{{stream}}/scores.npz", stream=STREAMS),
    output:
        [report(f"{FIGURES}/curves-{stream}.png", caption="../report/curves.rst", category="Training curves",
                labels={"stream": stream}) for stream in STREAMS],
        report(f"{FIGURES}/confusion.png", caption="../report/confusion.rst", category="Evaluation",
               labels={"result": "confusion matrix (ensemble, test)"}),
    shell:
        f"python -m pipeline figures --run {RES}/run.json --classes {RES}/classes.csv --out-dir {FIGURES}"


rule describe_page:
    input:
        f"{RES}/descriptions/{{variant}}.md",
    output:
        report(f"{RES}/descriptions/{{variant}}.html", caption="../report/descriptions.rst",
               category="Descriptions", labels={"variant": "{variant}"}),
    wildcard_constraints:
        variant="label|llm|kb|gsp",
    shell:
        f"python -m pipeline page --markdown {RES}/descriptions/{{wildcards.variant}}.md "
        f"--out {RES}/descriptions/{{wildcards.variant}}.html"
