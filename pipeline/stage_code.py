"""The code a stage runs, read from the imports: what the DAGs list as each stage's code deps.

`python -m pipeline <command>` runs `cli.py`'s `_<command>` handler, which imports the stage's
module; everything that module imports from this package, transitively, is the stage's code.
The Snakefile lists these files as inputs, dvc.yaml lists the same paths (tests/test_dag.py
checks it), so editing the training loop reruns training and what follows, and not pose.

Decisions: the stage's own sub-package counts whole (a folder dep: a new file in it is
part of the stage, as are its data files such as the describe prompts); from the rest of the
package only the modules actually imported (and their packages' `__init__.py`). Imports are
read from the source (ast), also those inside functions, so a lazily imported module counts,
and so do the "pipeline.x.y:Name" strings by which registries name what they import on use.
Standard library only: the Snakefile imports this before anything runs.
"""
from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
NAME = PACKAGE.name
# read at run time by config.py: every stage validates params.yaml against it
DATA_FILES = ("params.schema.json",)
# "pipeline.x.y:Name": how a registry names an implementation it imports when asked for
REGISTRY_TARGET = re.compile(rf"^{NAME}(\.\w+)+:\w+$")


def _module_file(module: str) -> Path | None:
    """pipeline.a.b -> its .py file (a module or a package's __init__.py), None if absent."""
    rel = Path(*module.split(".")[1:])
    for path in (PACKAGE / rel / "__init__.py", (PACKAGE / rel).with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join((NAME, *parts))


def _imported(path: Path, nodes: list[ast.AST] | None = None) -> set[str]:
    """The package's modules imported in `nodes` (default: the whole file)."""
    this = _module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    found = set()
    for node in nodes if nodes is not None else ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == NAME}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{base}.{node.module}" if node.module else base
            elif node.module and node.module.split(".")[0] == NAME:
                base = node.module
            else:
                continue
            found.add(base)
            # `from .x import y`: y may be a module of package x
            found |= {f"{base}.{a.name}" for a in node.names if _module_file(f"{base}.{a.name}")}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and REGISTRY_TARGET.match(node.value):
            found.add(node.value.partition(":")[0])     # a registry's "module:attribute" (registry.py)
    return {m for m in found if _module_file(m)}


@cache
def _file_imports(path: Path) -> frozenset[str]:
    # every snakemake start asks for each rule's code: parse each file once
    return frozenset(_imported(path))


def _closure(modules: set[str]) -> set[Path]:
    seen: set[Path] = set()
    todo = list(modules)
    while todo:
        module = todo.pop()
        parts = module.split(".")
        # importing a.b.c runs the __init__ of a and a.b first
        for k in range(1, len(parts) + 1):
            path = _module_file(".".join(parts[:k]))
            if path is not None and path not in seen:
                seen.add(path)
                todo.extend(_file_imports(path))
    return seen


def _collapsed(files: set[Path]) -> set[Path]:
    """A folder all of whose modules are in `files` stands for them (shorter lists; a
    module added there later counts too)."""
    files = set(files)
    for folder in sorted({p.parent for p in files} - {PACKAGE}, key=lambda p: -len(p.parts)):
        modules = set(folder.rglob("*.py"))
        if modules and modules <= files:
            files = {p for p in files if folder not in p.parents} | {folder}
    return files


def _handler_imports(command: str) -> set[str]:
    """The modules cli.py's handler of `command` imports (the stage's entry)."""
    cli = PACKAGE / "cli.py"
    handler = "_" + command.replace("-", "_")
    for node in ast.parse(cli.read_text(), str(cli)).body:
        if isinstance(node, ast.FunctionDef) and node.name == handler:
            return _imported(cli, list(ast.walk(node)))
    raise ValueError(f"{command!r}: no such stage command (cli.py has no {handler})")


def module_files(modules: set[str]) -> list[Path]:
    """The files of ``modules`` and of everything of the package they import, transitively."""
    return sorted(_closure(set(modules)))


@cache
def stage_code(command: str) -> tuple[str, ...]:
    """Paths, relative to the project root, of the code `python -m pipeline <command>` runs:
    the entry (__main__, cli, what cli imports at the top), the stage's sub-package as a
    folder, the other modules it imports as files."""
    entry = _handler_imports(command)
    own = {m.split(".")[1] for m in entry if (PACKAGE / m.split(".")[1]).is_dir()}
    cli = PACKAGE / "cli.py"
    top = _imported(cli, [n for n in ast.parse(cli.read_text()).body if isinstance(n, (ast.Import, ast.ImportFrom))])
    # cli.py itself, not the closure of every handler in it
    files = _closure(entry | top) | {PACKAGE / "__init__.py", PACKAGE / "__main__.py", cli}
    files = {p for p in files if p.relative_to(PACKAGE).parts[0] not in own}
    paths = {f"{NAME}/{sub}" for sub in own} | {f"{NAME}/{name}" for name in DATA_FILES}
    paths |= {f"{NAME}/{p.relative_to(PACKAGE).as_posix()}" for p in _collapsed(files)}
    return tuple(sorted(paths))


@cache
def _stage_code_files(command: str, root: str) -> tuple[str, ...]:
    files = []
    for rel in stage_code(command):
        path = Path(root) / rel
        if path.is_dir():
            files += sorted(p.relative_to(root).as_posix() for p in path.rglob("*")
                            if p.is_file() and "__pycache__" not in p.parts)
        else:
            files.append(rel)
    return tuple(files)


def stage_code_files(command: str, root: Path | str = ".") -> list[str]:
    """stage_code with each folder expanded to its files (what snakemake takes as inputs:
    a folder's time changes only when an entry is added or removed)."""
    return list(_stage_code_files(command, str(root)))


def sync_dvc_yaml(path: Path | str) -> bool:
    """Rewrite the code deps of every `python -m pipeline <command>` stage in a dvc.yaml to
    stage_code(command), keeping everything else (comments included) as written. Returns
    whether the file changed. `python -m pipeline.stage_code dvc.yaml experiments/dvc.yaml`
    after an import changes; tests/test_dag.py says when it is due."""
    path = Path(path)
    lines = path.read_text().splitlines(keepends=True)
    out, command, k = [], None, 0
    while k < len(lines):
        line = lines[k]
        words = line.split()
        if words[:4] == ["cmd:", "python", "-m", NAME] and len(words) > 4:
            command = words[4]
        stripped = line.lstrip()
        if command and stripped.startswith(f"- {NAME}/"):
            indent = line[:len(line) - len(stripped)]
            while k < len(lines) and lines[k].lstrip().startswith(f"- {NAME}/"):
                k += 1
            out += [f"{indent}- {rel}\n" for rel in stage_code(command)]
            command = None
            continue
        out.append(line)
        k += 1
    text = "".join(out)
    if text == path.read_text():
        return False
    path.write_text(text)
    return True


if __name__ == "__main__":
    import sys
    for name in sys.argv[1:]:
        print(f"{name}: {'updated' if sync_dvc_yaml(name) else 'up to date'}")
