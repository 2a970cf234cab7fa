# manifest -> pose -> keypoints. Each rule's inputs include the code it runs, and its `params:`
# the keys it reads (common.smk), so an edit of either reruns it (as DVC does from dvc.yaml).

# What the manifest is read from: the dataset's list files by content, its videos by listing
# (pipeline/data/sources.py). `listing` is the record the rule would write, computed as the
# Snakefile is read: when the dataset's files change, the param does, and the rule reruns.
rule sources:
    input:
        code=code("sources"),
    output:
        sources=f"{RES}/sources.json",
    params:
        **values("sources"),
        listing=sources_listing(),
        root=root_option(),
    log:
        log_file("sources"),
    resources:
        **job_resources(),
    conda:
        CONDA_ENV
    shell:
        "python -m pipeline sources --out {output.sources}{params.root} > {log} 2>&1"


# A checkpoint: the number of pose shards (one job each) is known once the manifest exists.
checkpoint manifest:
    input:
        sources=rules.sources.output.sources,
        code=code("manifest"),
    output:
        manifest=f"{RES}/manifest.parquet",
        classes=f"{RES}/classes.csv",
        corpus=f"{RES}/corpus.json",
        knowledge=directory(f"{RES}/knowledge"),
    params:
        **values("manifest"),
        out_dir=subpath(output.manifest, parent=True),
        root=root_option(),
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
