# The 4-stream ensemble -> results/<ds>/metrics.json, and run.json: the run bundle predict and
# evaluate load (its streams, weights and rule).

rule ensemble:
    input:
        expand(f"{RES}/train/{{stream}}/scores.npz", stream=STREAMS),
        expand(f"{RES}/train/{{stream}}/bundle.json", stream=STREAMS),
    output:
        report(f"{RES}/metrics.json", caption="../report/metrics.rst", category="Evaluation",
               labels={"result": "metrics.json (every stream and the ensemble)"}),
        f"{RES}/run.json",
    params:
        ensemble=config["ensemble"],
        presets=config["presets"],
    shell:
        f"python -m pipeline ensemble --train-dir {RES}/train --out {RES}/metrics.json --run {RES}/run.json"
