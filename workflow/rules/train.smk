# One training job per stream: results/<ds>/train/<stream>/{model.pt,scores.npz,...}.

TEXT_BANK = f"{RES}/text/{config['mc']['descriptions']}.safetensors"


rule train:
    input:
        train_inputs(f"{RES}/keypoints", TEXT_BANK),
    output:
        train_outputs(f"{RES}/train/{{stream}}"),
    wildcard_constraints:
        stream="|".join(STREAMS),
    params:
        seed=config["seed"],
        model=config["model"],
        train=config["train"],
        mc=config["mc"],
        presets=config["presets"],   # the file's presets (the values above have them applied)
        cmd=lambda wc: train_cmd(wc.stream, f"{RES}/keypoints", TEXT_BANK, f"{RES}/train/{wc.stream}"),
    threads: config["train"]["threads"]   # the loop's torch intra-op threads
    shell:
        "{params.cmd}"
