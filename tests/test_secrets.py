"""Credentials never leave memory (issue 28): the describe stage run by both DAG runners against a
loopback OpenAI-compatible server, with a bearer key in OPENAI_API_KEY and a query secret in
another variable (describe.openai.query_env). Both reach the server; neither is in any file of the
checkout (LLM cache, logs, .snakemake, dvc.lock, .dvc) afterwards. A base_url carrying a
credential is refused before any work, and the refusal does not repeat it."""
import subprocess

import pytest
from conftest import BIN, make_workdir, tiny_params, tool_env

from pipeline.describe.echo_server import EchoServer

pytestmark = pytest.mark.slow

KEY = "sk-planted-bearer-key-4c1f"
QUERY_SECRET = "planted-query-secret-9e2d"
IN_URL = "planted-userinfo-pw-77aa"
VARIANT = "gsp"


def _params(base_url: str) -> dict:
    p = tiny_params()
    p["describe"].update(provider="openai", variants=[VARIANT])
    p["describe"]["openai"].update(base_url=base_url, api_key_env="OPENAI_API_KEY",
                                   query_env={"api-key": "GSPMC_QUERY_SECRET"}, timeout_s=10,
                                   max_retries=1, backoff_s=0.01, concurrency=1)
    p["zeroshot"]["variants"] = [VARIANT]
    p["ablations"]["runs"] = {k: r for k, r in p["ablations"]["runs"].items() if r["descriptions"] == VARIANT}
    return p


def _run(cwd, *args) -> subprocess.CompletedProcess:
    env = {**tool_env(), "OPENAI_API_KEY": KEY, "GSPMC_QUERY_SECRET": QUERY_SECRET}
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def _ok(res: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert res.returncode == 0, f"{res.args}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


def _holding(wd, secret: str) -> list[str]:
    return sorted(str(p.relative_to(wd)) for p in wd.rglob("*")
                  if p.is_file() and not p.is_symlink() and secret.encode() in p.read_bytes())


def test_the_key_and_a_query_secret_reach_the_server_and_no_file(tmp_path):
    with EchoServer() as server:
        wd = make_workdir(tmp_path, _params(server.base_url))
        out = f"results/demo/descriptions/{VARIANT}.jsonl"
        smk = _ok(_run(wd, BIN / "snakemake", "--cores", "2", out))
        asked = len(server.paths)
        assert asked and server.auth == {f"Bearer {KEY}"}
        assert all(p.endswith(f"?api-key={QUERY_SECRET}") for p in server.paths)
        # DVC runs the same stage and records its params in dvc.lock; the cache answers it
        for args in (["git", "init", "-q"], [BIN / "dvc", "init", "-q"],
                     [BIN / "dvc", "repro", "--single-item", f"describe@{VARIANT}"]):
            dvc = _ok(_run(wd, *args))
        assert len(server.paths) == asked and (wd / "dvc.lock").exists()
    for secret in (KEY, QUERY_SECRET):
        assert _holding(wd, secret) == []
        assert secret not in smk.stdout + smk.stderr + dvc.stdout + dvc.stderr


def test_a_base_url_with_a_credential_is_refused_before_any_work(tmp_path):
    wd = make_workdir(tmp_path, _params(f"http://user:{IN_URL}@127.0.0.1:9/v1"))
    res = _run(wd, BIN / "snakemake", "--cores", "1", f"results/demo/descriptions/{VARIANT}.jsonl")
    assert res.returncode != 0
    assert "describe.openai.base_url holds a credential (user name or password" in res.stderr + res.stdout
    assert IN_URL not in res.stdout + res.stderr
    assert not (wd / "results").exists()
    assert _holding(wd, IN_URL) == ["params.yaml"]       # the user's own file, and only it
