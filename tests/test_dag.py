"""Snakefile and dvc.yaml describe one DAG: same stages, commands, deps, params, outs."""
import re
import subprocess
from pathlib import Path

from dvc.repo import Repo

from conftest import BIN, ROOT, tool_env


def snakemake_jobs(workdir: Path) -> dict:
    """Parse `snakemake -n -p --forceall all`: stage name -> (cmd, inputs, outputs)."""
    out = subprocess.run([str(BIN / "snakemake"), "-n", "-p", "--forceall", "all"], cwd=workdir,
                         env=tool_env(), capture_output=True, text=True, check=True).stdout
    jobs = {}
    for block in re.split(r"\n(?=(?:localrule|rule) \w+:)", out):
        m = re.match(r"(?:localrule|rule) (\w+):", block)
        if not m or m.group(1) == "all":
            continue
        fields = dict(re.findall(r"^    (input|output|wildcards): (.*)$", block, re.M))
        cmd = re.search(r"^Shell command: (.*)$", block, re.M).group(1).strip()
        name = m.group(1)
        if "wildcards" in fields:
            name += "@" + fields["wildcards"].split("=", 1)[1]
        split = lambda s: set(filter(None, (x.strip() for x in s.split(","))))  # noqa: E731
        jobs[name] = (cmd, split(fields.get("input", "")), split(fields.get("output", "")))
    return jobs


def snakemake_params() -> dict:
    """Rule name -> the params.yaml sections its `params:` block carries."""
    params = {}
    for smk in (ROOT / "workflow/rules").glob("*.smk"):
        for rule, body in re.findall(r"^rule (\w+):\n((?:    .*\n|\n)*)", smk.read_text(), re.M):
            block = re.search(r"^    params:\n((?:        .*\n)*)", body, re.M)
            params[rule] = set(re.findall(r"^        (\w+)=", block.group(1), re.M)) if block else set()
    return params


def dvc_stages(workdir: Path) -> dict:
    stages = {}
    for st in Repo(str(workdir)).index.stages:
        deps = {d.def_path for d in st.deps if type(d).__name__ != "ParamsDependency"}
        params = {p for d in st.deps if type(d).__name__ == "ParamsDependency" for p in d.params}
        stages[st.addressing] = (st.cmd, deps, {o.def_path for o in st.outs}, params)
    return stages


def test_snakefile_and_dvc_yaml_are_one_dag():
    smk = snakemake_jobs(ROOT)
    dvc = dvc_stages(ROOT)
    assert set(smk) == set(dvc)
    assert {"manifest", "pose", "keypoints", "ensemble", "train@joint", "train@bone",
            "train@joint_motion", "train@bone_motion", "kb_index", "describe@label", "describe@kb",
            "describe@gsp", "embed@label", "embed@kb", "embed@gsp"} == set(dvc)
    rule_params = snakemake_params()
    for name, (cmd, deps, outs, params) in dvc.items():
        s_cmd, s_in, s_out = smk[name]
        assert s_cmd == cmd, name
        assert s_in == deps, name
        assert s_out == outs, name
        assert rule_params[name.split("@")[0]] == params, name


def test_dvc_dag_shows_the_graph():
    out = subprocess.run([str(BIN / "dvc"), "dag", "--dot"], cwd=ROOT, env=tool_env(), capture_output=True,
                         text=True, check=True).stdout
    for a, b in [("manifest", "pose"), ("pose", "keypoints"), ("keypoints", "train@joint"),
                 ("train@bone_motion", "ensemble"), ("manifest", "kb_index"), ("kb_index", "describe@gsp"),
                 ("describe@gsp", "embed@gsp"), ("embed@gsp", "train@joint")]:
        assert re.search(rf'"{re.escape(a)}"\s*->\s*"{re.escape(b)}"', out), (a, b, out)
