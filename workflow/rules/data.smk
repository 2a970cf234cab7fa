# manifest -> pose -> keypoints. Each rule's inputs include the code it runs, and its `params:`
# the keys it reads (common.smk), so an edit of either reruns it (as DVC does from dvc.yaml).

# A checkpoint: the number of pose shards (one job each) is known once the manifest exists.
checkpoint manifest:
    input:
        code=code("manifest"),
    output:
        manifest=f"{RES}/manifest.parquet",
        classes=f"{RES}/classes.csv",
        corpus=f"{RES}/corpus.json",
        knowledge=directory(f"{RES}/knowledge"),
    params:
        **values("manifest"),
        out_dir=subpath(output.manifest, parent=True),
        # `--config dataset_root=PATH` (Snakefile): the manifest's --root
        root="" if DATASET_ROOT is None else f" --root {shlex.quote(str(DATASET_ROOT))}",
    log:
        log_file("manifest"),
    resources:
        **job_resources(),
    conda:
        CONDA_ENV
    shell:
        "python -m pipeline manifest --out-dir {params.out_dir}{params.root} > {log} 2>&1"


rule pose_shard:
    input:
        manifest=rules.manifest.output.manifest,
        # the demo's samples are rendered from it (its manifest names it as their source)
        corpus=rules.manifest.output.corpus,
        code=code("pose"),
    output:
        shard=f"{RES}/pose/shard-{{shard}}.parquet",
    wildcard_constraints:
        shard=r"\d{5}",
    params:
        **values("pose"),
        out_dir=subpath(output.shard, parent=True),
    log:
        log_file("pose/shard-{shard}"),
    benchmark:
        benchmark_file("pose/shard-{shard}")
    threads: 1
    resources:
        **job_resources("pose"),
    conda:
        CONDA_ENV
    shell:
        "python -m pipeline pose --manifest {input.manifest} --out {params.out_dir} "
        "--shard {wildcards.shard} > {log} 2>&1"


# Checks the shards, then writes the index and the quarantine list (what `dvc repro`'s
# single pose stage does after computing the shards itself).
rule pose:
    input:
        manifest=rules.manifest.output.manifest,
        corpus=rules.manifest.output.corpus,
        shards=pose_shard_files,
        code=code("pose"),
    output:
        index=f"{RES}/pose/index.json",
        quarantine=f"{RES}/pose/quarantine.csv",
    params:
        **values("pose"),
        out_dir=subpath(output.index, parent=True),
    log:
        log_file("pose/index"),
    resources:
        **job_resources(),
    conda:
        CONDA_ENV
    shell:
        "python -m pipeline pose --manifest {input.manifest} --out {params.out_dir} > {log} 2>&1"


rule keypoints:
    input:
        index=rules.pose.output.index,
        code=code("keypoints"),
    output:
        directory(f"{RES}/keypoints"),
    params:
        **values("keypoints"),
        pose_dir=subpath(input.index, parent=True),
    log:
        log_file("keypoints"),
    resources:
        **job_resources(),
    conda:
        CONDA_ENV
    shell:
        "python -m pipeline keypoints --pose {params.pose_dir} --out {output} > {log} 2>&1"
