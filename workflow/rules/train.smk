# One training job per stream: results/<ds>/train/<stream>/{model.pt,scores.npz,...}.

TEXT_BANK = f"{RES}/text/{config['mc']['descriptions']}.safetensors"


rule train:
    input:
        **train_inputs(rules.keypoints.output[0], TEXT_BANK),
    output:
        **train_outputs(f"{RES}/train/{{stream}}"),
    wildcard_constraints:
        stream="|".join(STREAMS),
    params:
        **values("train"),
        out_dir=subpath(output.model, parent=True),
    log:
        log_file("train/{stream}"),
    benchmark:
        benchmark_file("train/{stream}")
    threads: config["train"]["threads"]   # the loop's torch intra-op threads
    resources:
        **job_resources("train"),
    retries: config["resources"]["train_retries"]   # a retry resumes from the last epoch's checkpoint
    conda:
        CONDA_ENV
    shell:
        "python -m pipeline train --stream {wildcards.stream} --keypoints {input.keypoints} --manifest {input.manifest} "
        "--classes {input.classes} --text {input.text} --out {params.out_dir} > {log} 2>&1"
