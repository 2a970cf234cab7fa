"""The docs say what exists: README.md, results/README.md and every docs/*.md.

- Links: every relative markdown link `[text](path)` or `[text](path#anchor)` (and `(#anchor)`
  within a page) names a file or folder that exists, and an anchor must be a heading of the
  markdown page it points to (GitHub's slugs: lower case, punctuation other than `-` and `_`
  dropped, spaces to `-`, a repeated heading gets `-1`, `-2`, ...). URLs (`https:`, ...) are not
  followed.
- Commands: every command in a shell code block (fenced, language `sh`, `bash`, `shell`,
  `console` or none) and in an inline code span that starts with one, exists:
  `python -m pipeline <sub>` and `gspmc <sub>`: the sub-command, its options and the choices of
  `benchmark <what>` / `experiment <what>` and of options with choices, in `pipeline.cli.build_parser()`;
  `python -m pipeline.<module>`: the module; `make <target>`: a target of the Makefile;
  `snakemake ... <target>`: a rule of the Snakefile or workflow/rules/*.smk, or a path
  `results/<dataset>/<x>/...` whose `<x>` some rule writes (`{RES}/<x>`), and `--profile` an
  existing folder; `dvc repro|status|pull|push|commit|dag|checkout|fetch <target>`: a dvc.yaml
  file, and its stage (`file:stage`, `stage@item`: the stage, and the item among its foreach
  items); `dvc exp run -S key=value`: a key of params.yaml. In a code block, a line's first word
  must be a known program (a typo there is a wrong command too). Comment lines and the comment
  after a command (`# ...`) are not commands; placeholders (VIDEO, RUN, N, <repo>) are skipped.
- No indented code blocks: commands are fenced, so that the check above sees them.

Fast: no DAG run, no snakemake or dvc process; the CLI parser is built in process.
"""
from __future__ import annotations

import re
import shlex
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "results" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = {"", "sh", "bash", "shell", "console"}
# programs a shell block may name besides the checked ones
OTHER_PROGRAMS = {"git", "cd", "pip", "source", "hf", "mim", "sinfo", "export"}
CHECKED = {"python", "python3", "gspmc", "make", "snakemake", "dvc", "bash"}
FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# ---- markdown ----------------------------------------------------------------------------------

def split_markdown(text: str) -> tuple[list[tuple[str, int, str]], str]:
    """(code blocks as (language, line number, line) per line, the prose with blocks blanked)."""
    blocks, prose, fence, lang = [], [], None, ""
    for number, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if fence is None and m:
            fence, lang = m.group(1), m.group(2).lower()
            prose.append("")
        elif fence is not None and line.strip().startswith(fence) and not line.strip()[len(fence):].strip():
            fence = None
            prose.append("")
        elif fence is not None:
            blocks.append((lang, number, line))
            prose.append("")
        else:
            prose.append(line)
    assert fence is None, "a code fence is not closed"
    return blocks, "\n".join(prose)


def slug(heading: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(path: Path) -> set[str]:
    _, prose = split_markdown(path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found = set()
    for line in prose.splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
    return found


def inline_spans(prose: str) -> list[str]:
    return [" ".join(m.group(2).split()) for m in re.finditer(r"(`+)(.+?)\1", prose, re.S)]


def links(prose: str) -> list[str]:
    without_code = re.sub(r"(`+).+?\1", "", prose, flags=re.S)
    return re.findall(r"\[[^\]]*\]\(\s*([^)\s]+)(?:\s+\"[^\"]*\")?\s*\)", without_code)


# ---- what exists -------------------------------------------------------------------------------

@cache
def parser_tree():
    from pipeline.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return parser, sub.choices


@cache
def make_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text()
    return {t for t in re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", text, re.M) if not t.startswith(".")}


@cache
def smk_sources() -> str:
    return "\n".join(p.read_text() for p in [ROOT / "Snakefile", *sorted((ROOT / "workflow/rules").glob("*.smk"))])


@cache
def snakemake_rules() -> set[str]:
    return set(re.findall(r"^(?:rule|checkpoint)\s+(\w+)\s*:", smk_sources(), re.M))


@cache
def result_tops() -> set[str]:
    """The first path component under results/<dataset>/ that some rule writes."""
    tops = set(re.findall(r"\{RES\}/([\w.-]+)", smk_sources()))
    assert tops, "no {RES}/... path in the Snakefile: the pattern is stale"
    return tops


@cache
def params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def datasets() -> set[str]:
    p = params()
    return {p["dataset"], *p["datasets"], *p.get("presets", {})}


def has_param(key: str) -> bool:
    node = params()
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _resolve(value):
    """A foreach's items: a literal list or dict, or ${a.b} from params.yaml."""
    if isinstance(value, str):
        m = re.fullmatch(r"\$\{\s*([\w.]+)\s*\}", value.strip())
        if not m:
            return None
        value = params()
        for part in m.group(1).split("."):
            value = value[part]
    return list(value) if isinstance(value, (list, dict)) else None


@cache
def dvc_stages(dvc_file: str) -> dict[str, list | None]:
    """Stage name -> its foreach items (None: no foreach)."""
    stages = yaml.safe_load((ROOT / dvc_file).read_text())["stages"]
    return {name: _resolve(body["foreach"]) if "foreach" in body else None for name, body in stages.items()}


# ---- commands ----------------------------------------------------------------------------------

def placeholder(token: str) -> bool:
    token = token.strip("[].,")
    return (not token or token.startswith("<") or token.rstrip(".").isupper()
            or token in {"key=value", "key", "X.md", "X.html"})


def tokens_of(line: str) -> list[str]:
    line = re.split(r"(?:^|\s)#", line, maxsplit=1)[0]
    try:
        return shlex.split(line)
    except ValueError:
        return line.split()


def segments(tokens: list[str]) -> list[list[str]]:
    out, current = [], []
    for tok in tokens:
        if tok in {"&&", "||", ";", "|"}:
            out.append(current)
            current = []
        elif tok.startswith((">", "2>", "<")):
            current.append(None)      # a redirection: what follows is a file
        else:
            current.append(tok)
    out.append(current)
    result = []
    for seg in out:
        cut = seg.index(None) if None in seg else len(seg)
        seg = seg[:cut]
        while seg and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", seg[0]):
            seg = seg[1:]         # VAR=value before the program
        if seg:
            result.append(seg)
    return result


def program(tokens: list[str]) -> str:
    return Path(tokens[0]).name


def check_cli(args: list[str]) -> list[str]:
    parser, subs = parser_tree()
    errors = []
    i = 0
    while i < len(args) and args[i].startswith("-"):
        if args[i].split("=")[0] not in parser._option_string_actions:
            errors.append(f"no option {args[i]}")
        i += 1
    if i == len(args):
        return errors
    name = args[i]
    if name not in subs:
        return errors + [f"no sub-command {name!r} (there are: {', '.join(subs)})"]
    sub = subs[name]
    rest = args[i + 1:]
    positionals = [a for a in sub._actions if not a.option_strings]
    if positionals and positionals[0].choices and rest and not rest[0].startswith("-") \
            and not placeholder(rest[0]) and rest[0] not in positionals[0].choices:
        errors.append(f"{name} {rest[0]}: not one of {sorted(positionals[0].choices)}")
    for k, raw in enumerate(rest):
        tok = raw.strip("[]")
        if not tok.startswith("-") or tok == "-":
            continue
        option = tok.split("=")[0]
        action = sub._option_string_actions.get(option)
        if action is None:
            errors.append(f"{name}: no option {option}")
            continue
        if action.choices:
            values = [v.strip("[]") for v in rest[k + 1:]]
            values = values[:1] if action.nargs in (None, "?") else \
                [v for v in values[:next((j for j, v in enumerate(values) if v.startswith("-")), len(values))]]
            errors += [f"{name} {option} {v}: not one of {sorted(action.choices)}"
                       for v in values if not placeholder(v) and v not in action.choices]
    return errors


def check_module(module: str) -> list[str]:
    path = ROOT / Path(*module.split("."))
    return [] if path.with_suffix(".py").is_file() or (path / "__init__.py").is_file() else [f"no module {module}"]


def positionals(args: list[str], value_options: set[str], pair_options: frozenset[str] = frozenset()
                ) -> tuple[list[str], dict[str, list[str]]]:
    """A command line's positional arguments, and the values each option took: one value after
    each of ``value_options``, any run of key=value after each of ``pair_options``."""
    found, values = [], {}
    k = 0
    while k < len(args):
        tok = args[k]
        if tok in value_options:
            values.setdefault(tok, []).append(args[k + 1] if k + 1 < len(args) else "")
            k += 2
            continue
        k += 1
        if tok in pair_options:
            while k < len(args) and "=" in args[k] and not args[k].startswith("-"):
                values.setdefault(tok, []).append(args[k])
                k += 1
        elif not tok.startswith("-"):
            found.append(tok)
    return found, values


SNAKEMAKE_VALUE = {"--cores", "-c", "-j", "--jobs", "--report", "--sdm", "--software-deployment-method",
                   "--configfile", "--snakefile", "-s", "--directory", "-d", "--executor", "-e",
                   "--latency-wait", "--rerun-triggers", "--profile"}
SNAKEMAKE_KEYVALUES = frozenset({"--config", "-C", "--resources", "--set-resources", "--default-resources"})


def check_snakemake_target(target: str) -> list[str]:
    if placeholder(target):
        return []
    if "/" not in target and "." not in target:
        return [] if target in snakemake_rules() else [f"no rule {target!r}"]
    parts = Path(target).parts
    if len(parts) < 3 or parts[0] != "results":
        return [f"{target}: not a path under results/<dataset>/"]
    if parts[1] not in datasets():
        return [f"{target}: no dataset {parts[1]!r}"]
    if parts[2] not in result_tops():
        return [f"{target}: no rule writes results/<dataset>/{parts[2]}"]
    return []


def check_snakemake(args: list[str]) -> list[str]:
    targets, values = positionals(args, SNAKEMAKE_VALUE, SNAKEMAKE_KEYVALUES)
    errors = [f"no profile folder {p}" for p in values.get("--profile", []) if not (ROOT / p).is_dir()]
    return errors + [e for t in targets for e in check_snakemake_target(t)]


DVC_TARGETED = {"repro", "status", "pull", "push", "commit", "dag", "checkout", "fetch"}
DVC_VALUE = {"-r", "--remote", "-j", "--jobs"}


def check_dvc_target(target: str) -> list[str]:
    if placeholder(target):
        return []
    if ":" in target:
        dvc_file, stage = target.split(":", 1)
    elif target.endswith(".yaml") or "/" in target:
        dvc_file, stage = target, None
    else:
        dvc_file, stage = "dvc.yaml", target
    if Path(dvc_file).name != "dvc.yaml" or not (ROOT / dvc_file).is_file():
        return [f"{target}: no DVC file {dvc_file}"]
    if stage is None:
        return []
    name, _, item = stage.partition("@")
    stages = dvc_stages(dvc_file)
    if name not in stages:
        return [f"{target}: no stage {name!r} in {dvc_file} (there are: {', '.join(stages)})"]
    items = stages[name]
    if item and items is not None and item not in [str(i) for i in items]:
        return [f"{target}: {name} has no item {item!r} (its items: {', '.join(map(str, items))})"]
    return []


def check_dvc(args: list[str]) -> list[str]:
    if not args:
        return []
    errors = []
    if args[:2] == ["exp", "run"]:
        for k, tok in enumerate(args):
            if tok in {"-S", "--set-param"} and k + 1 < len(args):
                key = args[k + 1].split("=")[0]
                if not placeholder(key) and not has_param(key):
                    errors.append(f"exp run -S {key}: no such key in params.yaml")
        return errors
    if args[0] not in DVC_TARGETED:
        return []
    targets, _ = positionals(args[1:], DVC_VALUE)
    return [e for t in targets for e in check_dvc_target(t)]


def check_command(tokens: list[str], in_block: bool) -> list[str]:
    errors = []
    for seg in segments(tokens):
        prog = program(seg)
        if prog in {"python", "python3"}:
            if seg[1:2] == ["-m"] and len(seg) > 2:
                if seg[2] == "pipeline":
                    errors += check_cli(seg[3:])
                elif seg[2].startswith("pipeline."):
                    errors += check_module(seg[2])
        elif prog == "gspmc":
            errors += check_cli(seg[1:])
        elif prog == "make":
            errors += [f"no make target {t!r}" for t in seg[1:]
                       if not t.startswith("-") and "=" not in t and t not in make_targets()]
        elif prog == "snakemake":
            errors += check_snakemake(seg[1:])
        elif prog == "dvc":
            errors += check_dvc(seg[1:])
        elif prog == "bash":             # a script of the repository's
            scripts = [t for t in seg[1:] if not t.startswith("-")][:1]
            errors += [f"no script {t}" for t in scripts if not placeholder(t) and not (ROOT / t).is_file()]
        elif in_block and prog not in OTHER_PROGRAMS:
            errors.append(f"unknown program {prog!r} (a typo? else add it to OTHER_PROGRAMS)")
    return errors


def command_problems(path: Path) -> list[str]:
    blocks, prose = split_markdown(path.read_text(encoding="utf-8"))
    problems = []
    for lang, number, line in blocks:
        if lang not in SHELL:
            continue
        text = line.strip()
        if lang == "console":
            if not text.startswith("$ "):
                continue          # output
            text = text[2:]
        if not text or text.startswith("#"):
            continue
        command = re.split(r"(?:^|\s)#", text, maxsplit=1)[0].strip()
        problems += [f"{rel(path)}:{number}: {command}: {e}" for e in check_command(tokens_of(text), in_block=True)]
    for span in inline_spans(prose):
        words = [w for w in span.split() if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", w)]
        if words and Path(words[0]).name in CHECKED:
            problems += [f"{rel(path)}: `{span}`: {e}" for e in check_command(tokens_of(span), in_block=False)]
    return problems


# ---- the tests ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_relative_links_resolve(path):
    _, prose = split_markdown(path.read_text(encoding="utf-8"))
    broken = []
    for target in links(prose):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue              # a URL
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {rel(dest)}")
    assert not broken, f"{rel(path)}: " + "; ".join(broken)


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_commands_exist(path):
    problems = command_problems(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", DOCS, ids=rel)
def test_no_indented_code_blocks(path):
    _, prose = split_markdown(path.read_text(encoding="utf-8"))
    lines = prose.splitlines()
    found = []
    for k, line in enumerate(lines):
        if k and not lines[k - 1].strip() and re.match(r"^( {4,}|\t)\S", line):
            before = next((x for x in reversed(lines[:k]) if x.strip()), "")
            if not re.match(r"^\s*([-*+]|\d+\.)\s", before):
                found.append(f"{rel(path)}:{k + 1}: {line.strip()}")
    assert not found, "indented code block (fence it, so its commands are checked):\n" + "\n".join(found)


def test_the_docs_are_found():
    assert {"README.md", "results/README.md", "docs/pipeline.md"} <= {rel(p) for p in DOCS}


@pytest.mark.parametrize("line, wrong", [
    ("python -m pipeline trian --stream joint", "no sub-command 'trian'"),
    ("python -m pipeline benchmark trains", "benchmark trains: not one of"),
    ("gspmc predict VIDEO --rnu results/demo", "predict: no option --rnu"),
    ("python -m pipeline benchmark train --config huge", "--config huge: not one of"),
    ("make tests", "no make target 'tests'"),
    ("bash envs/mmpose-teir.sh .venv-mmpose", "no script envs/mmpose-teir.sh"),
    ("snakemake --cores 2 tabels", "no rule 'tabels'"),
    ("snakemake --profile workflow/profiles/slrum all", "no profile folder workflow/profiles/slrum"),
    ("snakemake --cores 2 --config seed=3 tabels", "no rule 'tabels'"),
    ("snakemake --cores 2 results/demo/trian/joint/model.pt", "no rule writes results/<dataset>/trian"),
    ("dvc repro trian@joint", "no stage 'trian'"),
    ("dvc repro train@jiont", "train has no item 'jiont'"),
    ("dvc repro experiments/dvc.yaml:ablate@nope", "ablate has no item 'nope'"),
    ("dvc exp run -S train.epoch=5", "no such key"),
    ("python -m pipeline.stage_codes dvc.yaml", "no module pipeline.stage_codes"),
    ("snakemak --cores 2 all", "unknown program 'snakemak'"),
])
def test_a_wrong_command_is_caught(line, wrong):
    """The checker itself: each of these is a real command with one typo."""
    errors = check_command(tokens_of(line), in_block=True)
    assert any(wrong in e for e in errors), errors


@pytest.mark.parametrize("line", [
    "snakemake --unlock && snakemake --cores 8 all --rerun-incomplete",
    "dvc repro experiments/dvc.yaml:ablate@synonym",
    "gspmc predict VIDEO_OR_FOLDER... --run results/demo [-k 5] [--json out.json]",
    "python -m pipeline benchmark train --config paper --device cuda --precisions fp32 bf16 --compile",
    "PYTHON=python3.12 make demo",
    "make bench-gpu DEVICE=cpu BATCHES=2 STEPS=1",
    "snakemake --profile workflow/profiles/slurm all",
    "snakemake --cores 16 tables --config dataset_root=/data/AUTSL",
])
def test_a_right_command_passes(line):
    assert check_command(tokens_of(line), in_block=True) == []
