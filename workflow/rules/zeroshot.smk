# Zero-shot recognition from description texts, outside `all`: `snakemake --cores 1 zeroshot`
# draws seen / validation-unseen / test-unseen class sets zeroshot.draws times, trains each of
# zeroshot.streams on the seen classes per zeroshot.variants, chooses on validation-unseen and scores
# test-unseen by their texts -> results/<ds>/zeroshot/metrics.{json,md} (runs in runs/draw<k>/<variant>/<stream>/).
# experiments/dvc.yaml holds the same stage for DVC.

ZS = config["zeroshot"]


rule zeroshot:
    input:
        keypoints=rules.keypoints.output[0],
        manifest=rules.manifest.output.manifest,
        classes=rules.manifest.output.classes,
        corpus=rules.manifest.output.corpus,
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
        "--corpus {input.corpus} --text-dir {params.text_dir} --out-dir {params.out_dir} > {log} 2>&1"
