"""Snakefile and dvc.yaml describe one DAG: same stages, commands, deps, params, outs."""
import re
import subprocess
from pathlib import Path

import yaml
from dvc.repo import Repo

from conftest import BIN, ROOT, tool_env

TARGET_RULES = {"all", "tables", "zeroshot"}  # the targets the plans are taken for
EXTRA_DVC_FILES = ("experiments/dvc.yaml",)  # the targets outside `all`
# snakemake fans these DVC stages out into one job per shard (DVC has no dynamic fan-out:
# its stage computes every shard itself, then does what snakemake's aggregate rule does)
FANOUT_RULES = {"pose_shard": "pose"}


def snakemake_jobs(workdir: Path, *targets: str) -> dict:
    """Parse `snakemake -n -p --forceall <targets>`: stage name -> (cmd, inputs, outputs)."""
    out = subprocess.run([str(BIN / "snakemake"), "-n", "-p", "--forceall", *targets], cwd=workdir,
                         env=tool_env(), capture_output=True, text=True, check=True).stdout
    jobs = {}
    for block in re.split(r"\n(?=(?:localrule|rule|checkpoint|localcheckpoint) \w+:)", out):
        m = re.match(r"(?:localrule|rule|checkpoint|localcheckpoint) (\w+):", block)
        if not m or m.group(1) == "all":
            continue
        fields = dict(re.findall(r"^    (input|output|wildcards): (.*)$", block, re.M))
        cmd = re.search(r"^Shell command: (.*)$", block, re.M).group(1).strip()
        name = m.group(1)
        if "wildcards" in fields:
            # DVC names a matrix stage by its values joined with '-'
            name += "@" + "-".join(kv.split("=", 1)[1] for kv in fields["wildcards"].split(", "))
        # <TBD>: inputs known once a checkpoint (the manifest) has run, i.e. the pose shards
        # and an output's flag, e.g. "model.pt (update)", is not part of its path
        split = lambda s: set(filter(None, (re.sub(r" \(\w+\)$", "", x.strip())  # noqa: E731
                                            for x in s.split(",")))) - {"<TBD>"}
        jobs[name] = (cmd, split(fields.get("input", "")), split(fields.get("output", "")))
    return jobs


def snakemake_params() -> dict:
    """Rule name -> the params.yaml sections its `params:` block carries (other names in
    the block, such as a command built from the wildcards, are not sections)."""
    sections = set(yaml.safe_load((ROOT / "params.yaml").read_text()))
    params = {}
    for smk in (ROOT / "workflow/rules").glob("*.smk"):
        for rule, body in re.findall(r"^(?:rule|checkpoint) (\w+):\n((?:    .*\n|\n)*)", smk.read_text(), re.M):
            block = re.search(r"^    params:\n((?:        .*\n)*)", body, re.M)
            names = set(re.findall(r"^        (\w+)=", block.group(1), re.M)) if block else set()
            params[rule] = names & sections
    return params


def dvc_stages(workdir: Path) -> dict:
    stages = {}
    for st in Repo(str(workdir)).index.stages:
        deps = {d.def_path for d in st.deps if type(d).__name__ != "ParamsDependency"}
        params = {p for d in st.deps if type(d).__name__ == "ParamsDependency" for p in d.params}
        name = st.addressing
        for prefix in EXTRA_DVC_FILES:
            name = name.removeprefix(prefix + ":")
        stages[name] = (st.cmd, deps, {o.def_path for o in st.outs}, {p.split(".")[0] for p in params})
    return stages


def covered(inputs: set, deps: set) -> bool:
    """Every snakemake input is a DVC dep or lies in a DVC dep folder, and every dep is used:
    DVC cannot list computed deps, so a table stage depends on the folder of its inputs."""
    inside = lambda path, dep: path == dep or path.startswith(dep + "/")  # noqa: E731
    return (all(any(inside(i, d) for d in deps) for i in inputs)
            and all(any(inside(i, d) for i in inputs) for d in deps))


def test_snakefile_and_dvc_yaml_are_one_dag():
    smk = snakemake_jobs(ROOT, *sorted(TARGET_RULES))
    dvc = dvc_stages(ROOT)
    for name in [n for n in smk if n.split("@")[0] in FANOUT_RULES]:
        cmd, inputs, outputs = smk.pop(name)
        stage = dvc[FANOUT_RULES[name.split("@")[0]]]
        assert cmd == f"{stage[0]} --shard {name.split('@')[1]}", name
        assert inputs <= stage[1] and covered(outputs, stage[2]), name
    assert set(smk) == set(dvc)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())["ablations"]
    ablations = {f"ablate@{a}" for a in params["runs"]} | {f"keypoint_preset@{k}" for k in params["keypoints"]}
    assert {"ce", "all", "multipart", "kb_multipart", "sam27_ce", "all133_multipart"} <= set(params["runs"])
    assert {"manifest", "pose", "keypoints", "ensemble", "train@joint", "train@bone",
            "train@joint_motion", "train@bone_motion", "kb_index", "describe@label", "describe@kb",
            "describe@gsp", "embed@label", "embed@kb", "embed@gsp", "tables", "zeroshot", "figures",
            "describe_page@label", "describe_page@kb", "describe_page@gsp"} | ablations == set(dvc)
    rule_params = snakemake_params()
    for name, (cmd, deps, outs, params) in dvc.items():
        s_cmd, s_in, s_out = smk[name]
        assert s_cmd == cmd, name
        assert covered(s_in, deps), (name, s_in, deps)
        assert covered(s_out, outs), (name, s_out, outs)
        assert rule_params[name.split("@")[0]] == params, name


def test_plain_targets_leave_the_ablations_out():
    """`snakemake all` and a bare `dvc repro` build the main DAG only."""
    extra = ("ablat", "tables", "keypoint_preset", "zeroshot")
    assert not any(n.startswith(extra) for n in snakemake_jobs(ROOT, "all"))
    assert not any(x in st.addressing for st in Repo(str(ROOT)).index.stages if st.path_in_repo == "dvc.yaml"
                   for x in extra)


def test_dvc_dag_shows_the_graph():
    out = subprocess.run([str(BIN / "dvc"), "dag", "--dot"], cwd=ROOT, env=tool_env(), capture_output=True,
                         text=True, check=True).stdout
    for a, b in [("manifest", "pose"), ("pose", "keypoints"), ("keypoints", "train@joint"),
                 ("train@bone_motion", "ensemble"), ("manifest", "kb_index"), ("kb_index", "describe@gsp"),
                 ("describe@gsp", "embed@gsp"), ("embed@gsp", "train@joint")]:
        assert re.search(rf'"{re.escape(a)}"\s*->\s*"{re.escape(b)}"', out), (a, b, out)
