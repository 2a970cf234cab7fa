# Knowledge-base index -> GSP descriptions, one job per Table 4 variant.
KB = config["knowledge"]["path"]


rule kb_index:
    input:
        knowledge=KB,
        code=code("kb-index"),
    output:
        directory(f"{RES}/kb_index"),
    params:
        **values("kb-index"),
    log:
        log_file("kb_index"),
    resources:
        **job_resources(),
    conda:
        CONDA_ENV
    shell:
        "python -m pipeline kb-index --knowledge {input.knowledge} --out {output} > {log} 2>&1"


rule describe:
    input:
        classes=rules.manifest.output.classes,
        knowledge=KB,
        index=rules.kb_index.output,
        code=code("describe"),
    output:
        jsonl=f"{RES}/descriptions/{{variant}}.jsonl",
        report=f"{RES}/descriptions/{{variant}}.md",
    wildcard_constraints:
        variant="|".join(VARIANTS),
    params:
        **values("describe"),
    log:
        log_file("describe/{variant}"),
    benchmark:
        benchmark_file("describe/{variant}")
    resources:
        **job_resources("describe"),
    conda:
        CONDA_ENV
    shell:
        "python -m pipeline describe --variant {wildcards.variant} --classes {input.classes} "
        "--knowledge {input.knowledge} --index {input.index} --out {output.jsonl} --report {output.report} > {log} 2>&1"


rule embed:
    input:
        descriptions=rules.describe.output.jsonl,
        classes=rules.manifest.output.classes,
        code=code("embed"),
    output:
        f"{RES}/text/{{variant}}.safetensors",
    wildcard_constraints:
        variant="|".join(VARIANTS),
    params:
        **values("embed"),
    log:
        log_file("embed/{variant}"),
    benchmark:
        benchmark_file("embed/{variant}")
    resources:
        **job_resources(),
    conda:
        CONDA_ENV
    shell:
        "python -m pipeline embed --descriptions {input.descriptions} --classes {input.classes} --out {output} > {log} 2>&1"
