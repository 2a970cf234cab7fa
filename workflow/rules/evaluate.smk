# The 4-stream ensemble -> results/<ds>/metrics.json, and run.json: the run bundle predict and
# evaluate load (its streams, weights and rule).


rule ensemble:
    input:
        scores=expand(f"{RES}/train/{{stream}}/scores.npz", stream=STREAMS),
        bundles=expand(f"{RES}/train/{{stream}}/bundle.json", stream=STREAMS),
        code=code("ensemble"),
    output:
        metrics=report(f"{RES}/metrics.json", caption="../report/metrics.rst", category="Evaluation",
                       labels={"result": "metrics.json (every stream and the ensemble)"}),
        run=f"{RES}/run.json",
    params:
        **values("ensemble"),
        train_dir=lambda wildcards, input: Path(input.bundles[0]).parent.parent,
    log:
        log_file("ensemble"),
    resources:
        **job_resources(),
    conda:
        CONDA_ENV
    shell:
        "python -m pipeline ensemble --train-dir {params.train_dir} --out {output.metrics} --run {output.run} > {log} 2>&1"
