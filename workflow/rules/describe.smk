# Knowledge-base index -> GSP descriptions, one job per Table 4 variant.
KB = config["knowledge"]["path"]

rule kb_index:
    input:
        KB,
    output:
        directory(f"{RES}/kb_index"),
    params:
        knowledge=config["knowledge"],
    shell:
        f"python -m pipeline kb-index --knowledge {KB} --out {RES}/kb_index"


rule describe:
    input:
        f"{RES}/classes.csv",
        KB,
        f"{RES}/kb_index",
    output:
        f"{RES}/descriptions/{{variant}}.jsonl",
        f"{RES}/descriptions/{{variant}}.md",
    wildcard_constraints:
        variant="label|llm|kb|gsp",
    params:
        knowledge=config["knowledge"],
        describe=config["describe"],
    shell:
        f"python -m pipeline describe --variant {{wildcards.variant}} --classes {RES}/classes.csv "
        f"--knowledge {KB} --index {RES}/kb_index --out {RES}/descriptions/{{wildcards.variant}}.jsonl "
        f"--report {RES}/descriptions/{{wildcards.variant}}.md"


rule embed:
    input:
        f"{RES}/descriptions/{{variant}}.jsonl",
        f"{RES}/classes.csv",
    output:
        f"{RES}/text/{{variant}}.safetensors",
    wildcard_constraints:
        variant="label|llm|kb|gsp",
    params:
        embed=config["embed"],
    shell:
        f"python -m pipeline embed --descriptions {RES}/descriptions/{{wildcards.variant}}.jsonl "
        f"--classes {RES}/classes.csv --out {RES}/text/{{wildcards.variant}}.safetensors"
