"""Stand-ins for the SLURM client commands that snakemake-executor-plugin-slurm calls.

tests/test_slurm.py writes one small executable per command (sbatch, srun, sacct, squeue,
sacctmgr, sshare, scontrol, sinfo, scancel) into a folder it puts first on PATH; each calls
main(<command>, argv). State lives under $FAKE_SLURM_STATE:

  sbatch.jsonl, srun.jsonl, scancel.jsonl  one JSON line per call: its argv (and what it made of it)
  jobs/<id>.json                           one file per job: name, comment, partition, gpus, state
  scripts/<id>.sh                          the batch script a job ran

sbatch runs the job it is given at once (bash, in its -D folder, with the caller's environment
as --export=ALL gives it plus the SLURM_* variables a job sees), waits for it and prints the job
id as `sbatch --parsable` does. It refuses, as SLURM does, options it does not know, a partition
the cluster lacks and a GPU request on a partition without GPUs. sacct/squeue answer the plugin's
status queries (`<id>|<STATE>`, STATE COMPLETED or FAILED) for the jobs with the queried name.

The cluster: partitions $FAKE_SLURM_PARTITIONS (default "cpu*,gpu:gpu", the * marks the default,
:gpu one with GPUs), account $FAKE_SLURM_ACCOUNT (default "gspmc").
"""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

FIRST_JOB_ID = 4000
NODE = "node001"


def _state() -> Path:
    state = Path(os.environ["FAKE_SLURM_STATE"])
    (state / "jobs").mkdir(parents=True, exist_ok=True)
    (state / "scripts").mkdir(parents=True, exist_ok=True)
    return state


def _account() -> str:
    return os.environ.get("FAKE_SLURM_ACCOUNT", "gspmc")


def _partitions() -> dict[str, dict]:
    """name -> {"default": bool, "gpus": bool}"""
    out = {}
    for item in os.environ.get("FAKE_SLURM_PARTITIONS", "cpu*,gpu:gpu").split(","):
        name, _, feature = item.strip().partition(":")
        out[name.rstrip("*")] = {"default": name.endswith("*"), "gpus": feature == "gpu"}
    return out


@contextmanager
def _locked():
    with open(_state() / "lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _append(name: str, record: dict) -> None:
    with _locked(), open(_state() / name, "a") as fh:
        fh.write(json.dumps(record) + "\n")


def _new_job_id() -> int:
    counter = _state() / "last_job_id"
    with _locked():
        last = int(counter.read_text()) if counter.exists() else FIRST_JOB_ID - 1
        counter.write_text(str(last + 1))
    return last + 1


def _write_job(job: dict) -> None:
    path = _state() / "jobs" / f"{job['id']}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(job))
    tmp.replace(path)


def _jobs() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((_state() / "jobs").glob("*.json"))]


def _fail(command: str, message: str, rc: int = 1) -> int:
    print(f"{command}: error: {message}", file=sys.stderr)
    return rc


# ---------------------------------------------------------------- argv parsing (sbatch, srun)
SBATCH_VALUE = {"-A": "account", "--account": "account", "-p": "partition", "--partition": "partition",
                "-t": "time", "--time": "time", "-C": "constraint", "--constraint": "constraint",
                "-D": "chdir", "--chdir": "chdir", "-J": "job-name", "--job-name": "job-name",
                "-o": "output", "--output": "output", "-e": "error", "--error": "error",
                "--comment": "comment", "-M": "clusters", "--clusters": "clusters", "--mem": "mem",
                "--mem-per-cpu": "mem-per-cpu", "-q": "qos", "--qos": "qos", "-N": "nodes",
                "--nodes": "nodes", "-n": "ntasks", "--ntasks": "ntasks", "--ntasks-per-gpu": "ntasks-per-gpu",
                "--ntasks-per-node": "ntasks-per-node", "-c": "cpus-per-task", "--cpus-per-task": "cpus-per-task",
                "--cpus-per-gpu": "cpus-per-gpu", "-G": "gpus", "--gpus": "gpus", "--gres": "gres",
                "--reservation": "reservation", "-x": "exclude", "--exclude": "exclude", "-a": "array",
                "--array": "array", "--wrap": "wrap", "--export": "export", "--tmp": "tmp",
                "--mail-type": "mail-type", "--mail-user": "mail-user"}
SBATCH_FLAGS = {"--parsable": "parsable", "--requeue": "requeue", "--no-requeue": "no-requeue",
                "--exclusive": "exclusive", "-H": "hold", "--hold": "hold"}
SRUN_VALUE = {"-n": "ntasks", "--ntasks": "ntasks", "-c": "cpus-per-task", "--cpus-per-task": "cpus-per-task",
              "--cpus-per-gpu": "cpus-per-gpu", "-N": "nodes", "--nodes": "nodes", "-G": "gpus",
              "--gpus": "gpus", "--gres": "gres", "--cpu-bind": "cpu-bind", "--jobid": "jobid",
              "-J": "job-name", "--job-name": "job-name", "--mem": "mem", "--mem-per-cpu": "mem-per-cpu"}
SRUN_FLAGS = {"--exclusive": "exclusive"}


def _parse(argv: list[str], value_opts: dict, flag_opts: dict) -> tuple[dict, list[str]]:
    """Options (canonical long name -> value, True for flags) and the positional rest."""
    opts: dict = {}
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            return opts, argv[i + 1:]
        if not tok.startswith("-") or tok == "-":
            return opts, argv[i:]
        if tok.startswith("--"):
            name, eq, value = tok.partition("=")
        else:                       # -p gpu, -pgpu
            name, value = tok[:2], tok[2:]
            eq = "=" if value else ""
        if name in flag_opts and not eq:
            opts[flag_opts[name]] = True
        elif name in value_opts:
            if not eq:
                i += 1
                if i == len(argv):
                    raise ValueError(f"option '{name}' requires an argument")
                value = argv[i]
            opts[value_opts[name]] = value
        else:
            raise ValueError(f"unrecognized option '{tok}'")
        i += 1
    return opts, []


def _gpus(opts: dict) -> int:
    """The GPUs a request asks for: --gpus=[type:]N or --gres=gpu[:type]:N."""
    if "gpus" in opts:
        return int(str(opts["gpus"]).rsplit(":", 1)[-1])
    for gres in str(opts.get("gres", "")).split(","):
        parts = gres.split(":")
        if parts[0] == "gpu":
            return int(parts[-1]) if len(parts) > 1 and parts[-1].isdigit() else 1
    return 0


# ---------------------------------------------------------------- the commands
def sbatch(argv: list[str]) -> int:
    try:
        opts, rest = _parse(argv, SBATCH_VALUE, SBATCH_FLAGS)
    except ValueError as err:
        return _fail("sbatch", str(err))
    if "array" in opts:
        return _fail("sbatch", "the stand-in runs no job arrays")
    if "wrap" in opts:
        if rest:
            return _fail("sbatch", "script arguments not permitted with --wrap option")
        script = "#!/bin/sh\n" + opts["wrap"] + "\n"
    elif rest and rest[0] in ("-", "/dev/stdin"):
        script = sys.stdin.read()
    elif rest:
        if not Path(rest[0]).is_file():
            return _fail("sbatch", f"Unable to open file {rest[0]}")
        script = Path(rest[0]).read_text()
    else:
        return _fail("sbatch", "no batch script and no --wrap")

    partitions = _partitions()
    partition = opts.get("partition") or next((n for n, p in partitions.items() if p["default"]), None)
    if partition not in partitions:
        return _fail("sbatch", "Batch job submission failed: Invalid partition name specified")
    gpus = _gpus(opts)
    if gpus and not partitions[partition]["gpus"]:
        return _fail("sbatch", "Batch job submission failed: Requested node configuration is not available")
    if opts.get("account") not in (None, _account()):
        return _fail("sbatch", "Batch job submission failed: Invalid account or account/partition combination")

    jobid = _new_job_id()
    submit_dir = os.getcwd()
    workdir = Path(opts.get("chdir", submit_dir))
    name = opts.get("job-name", "wrap" if "wrap" in opts else Path(rest[0]).name)
    job = {"id": jobid, "name": name, "comment": opts.get("comment", ""), "partition": partition,
           "account": opts.get("account", ""), "gpus": gpus, "state": "RUNNING", "exit_code": None}
    _append("sbatch.jsonl", {"argv": argv, "jobid": jobid, "options": opts, "partition": partition, "gpus": gpus})
    _write_job(job)

    script_file = _state() / "scripts" / f"{jobid}.sh"
    script_file.write_text(script)
    output = opts.get("output", "slurm-%j.out").replace("%j", str(jobid)).replace("%x", name)
    output = workdir / output
    output.parent.mkdir(parents=True, exist_ok=True)

    env = dict(os.environ) if opts.get("export", "ALL") == "ALL" else {"PATH": os.environ["PATH"]}
    cpus = str(opts.get("cpus-per-task", opts.get("cpus-per-gpu", 1)))
    env.update({"SLURM_JOB_ID": str(jobid), "SLURM_JOBID": str(jobid), "SLURM_JOB_NAME": name,
                "SLURM_JOB_PARTITION": partition, "SLURM_SUBMIT_DIR": submit_dir,
                "SLURM_SUBMIT_HOST": os.uname().nodename, "SLURM_JOB_NODELIST": NODE,
                "SLURM_NNODES": "1", "SLURM_NTASKS": str(opts.get("ntasks", 1)), "SLURM_CPUS_ON_NODE": cpus,
                "SLURM_CPUS_PER_TASK": cpus})
    if gpus:
        env["SLURM_GPUS"] = str(gpus)
    with open(output, "a") as log:
        rc = subprocess.run(["bash", str(script_file)], cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT).returncode
    job.update(state="COMPLETED" if rc == 0 else "FAILED", exit_code=rc)
    _write_job(job)

    print(jobid if opts.get("parsable") else f"Submitted batch job {jobid}")
    return 0


def srun(argv: list[str]) -> int:
    """A job step: only inside a job (SLURM_JOB_ID), with no more GPUs than the job holds."""
    try:
        opts, rest = _parse(argv, SRUN_VALUE, SRUN_FLAGS)
    except ValueError as err:
        return _fail("srun", str(err))
    jobid = os.environ.get("SLURM_JOB_ID")
    _append("srun.jsonl", {"argv": argv, "jobid": jobid, "options": opts})
    if not jobid or not (_state() / "jobs" / f"{jobid}.json").exists():
        return _fail("srun", "the stand-in runs job steps inside a job only")
    job = json.loads((_state() / "jobs" / f"{jobid}.json").read_text())
    if _gpus(opts) > job["gpus"]:
        return _fail("srun", "Unable to create step for job: Invalid generic resource (gres) specification")
    if not rest:
        return _fail("srun", "no command to run")
    sys.stdout.flush()
    os.execvp(rest[0], rest)
    return 127


def option_value(argv: list[str], *names: str) -> str | None:
    """An option's value in an sbatch/srun argv (`-p gpu`, `--gpus=1`); None if absent."""
    for i, tok in enumerate(argv):
        for name in names:
            if tok == name and i + 1 < len(argv):
                return argv[i + 1]
            if tok.startswith(name + "="):
                return tok[len(name) + 1:]
    return None


def _status_lines(name: str | None) -> str:
    return "".join(f"{j['id']}|{j['state']}\n" for j in _jobs() if name is None or j["name"] == name)


def sacct(argv: list[str]) -> int:
    fmt = (option_value(argv, "--format", "-o") or "").lower()
    if fmt == "jobidraw,state":            # the status query: sacct -X --parsable2 ... --name <run uuid>
        sys.stdout.write(_status_lines(option_value(argv, "--name")))
    elif fmt.startswith("account"):        # the account guess: sacct -nu <user> -o Account%256 | tail -1
        print(_account())
    elif fmt == "reason":                  # why a job failed: sacct -j <id>.<step> --format=Reason
        jobid, _, step = (option_value(argv, "-j", "--jobs") or "").partition(".")
        job = next((j for j in _jobs() if str(j["id"]) == jobid), None)
        if job and step in ("", "0") and job["state"] == "FAILED":
            print("NonZeroExitCode")
    elif fmt.startswith("nodelist"):
        print(NODE)
    else:
        return _fail("sacct", f"the stand-in answers no query like {argv}")
    return 0


def squeue(argv: list[str]) -> int:
    if option_value(argv, "--format", "-o") != "%i|%T":
        return _fail("squeue", f"the stand-in answers no query like {argv}")
    sys.stdout.write(_status_lines(option_value(argv, "--name", "-n")))
    return 0


def sacctmgr(argv: list[str]) -> int:   # sacctmgr -n -s list user <user> format=account%256
    print(_account())
    return 0


def sshare(argv: list[str]) -> int:     # sshare -U --format Account%256 --noheader
    print(_account())
    return 0


def scontrol(argv: list[str]) -> int:
    if argv[:2] != ["show", "config"]:
        return _fail("scontrol", f"the stand-in answers no query like {argv}")
    print("Configuration data as of 2026-01-01T00:00:00\nMaxArraySize            = 1001\n"
          "MinJobAge               = 300 sec\nSLURM_VERSION           = 24.05.0")
    return 0


def sinfo(argv: list[str]) -> int:      # sinfo -o %P
    print("PARTITION")
    for name, p in _partitions().items():
        print(name + ("*" if p["default"] else ""))
    return 0


def scancel(argv: list[str]) -> int:
    _append("scancel.jsonl", {"argv": argv})
    for job in _jobs():
        if str(job["id"]) in argv and job["state"] == "RUNNING":
            job["state"] = "CANCELLED"
            _write_job(job)
    return 0


COMMANDS = {f.__name__: f for f in (sbatch, srun, sacct, squeue, sacctmgr, sshare, scontrol, sinfo, scancel)}


def main(command: str, argv: list[str]) -> int:
    return COMMANDS[command](argv)


def install(bin_dir: Path, state: Path, python: str = sys.executable) -> dict:
    """Write the commands into bin_dir; return the environment additions that make them active."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    here = Path(__file__).resolve().parent
    for command in COMMANDS:
        exe = bin_dir / command
        exe.write_text(f"#!{python}\nimport sys\nsys.path.insert(0, {str(here)!r})\n"
                       f"from fake_slurm import main\nsys.exit(main({command!r}, sys.argv[1:]))\n")
        exe.chmod(0o755)
    state.mkdir(parents=True, exist_ok=True)
    return {"FAKE_SLURM_STATE": str(state)}
