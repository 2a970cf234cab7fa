# Zero-shot recognition from description texts, outside `all`: `snakemake --cores 1 zeroshot`
# trains zeroshot.stream on the seen classes once per zeroshot.variants and scores the held-out
# classes by their texts -> results/<ds>/zeroshot/metrics.{json,md} (training runs in runs/<variant>/).
# experiments/dvc.yaml holds the same stage for DVC.

ZS = config["zeroshot"]


rule zeroshot:
    input:
        keypoints=rules.keypoints.output[0],
        manifest=rules.manifest.output.manifest,
        classes=rules.manifest.output.classes,
        texts=expand(f"{RES}/text/{{variant}}.safetensors", variant=ZS["variants"]),
        code=code("zeroshot"),
    output:
        json=f"{RES}/zeroshot/metrics.json",
        md=f"{RES}/zeroshot/metrics.md",
        html=report(f"{RES}/zeroshot/metrics.html", caption="../report/zeroshot.rst", category="Zero-shot",
                    labels={"result": "unseen classes from their texts"}),
    params:
        **values("zeroshot"),
        text_dir=lambda wildcards, input: Path(input.texts[0]).parent,
        out_dir=subpath(output.json, parent=True),
    log:
        log_file("zeroshot"),
    threads: config["train"]["threads"]   # the loop's torch intra-op threads
    resources:
        **job_resources("train"),
    retries: config["resources"]["train_retries"]   # each variant's training resumes from its checkpoint (train_stream)
    conda:
        CONDA_ENV
    shell:
        "python -m pipeline zeroshot --keypoints {input.keypoints} --manifest {input.manifest} --classes {input.classes} "
        "--text-dir {params.text_dir} --out-dir {params.out_dir} > {log} 2>&1"
