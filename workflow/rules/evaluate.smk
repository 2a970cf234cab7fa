# The 4-stream ensemble -> results/<ds>/metrics.json.

rule ensemble:
    input:
        expand(f"{RES}/train/{{stream}}/scores.npz", stream=STREAMS),
    output:
        f"{RES}/metrics.json",
    params:
        ensemble=config["ensemble"],
        presets=config["presets"],
    shell:
        f"python -m pipeline ensemble --train-dir {RES}/train --out {RES}/metrics.json"
