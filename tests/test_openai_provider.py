"""The openai provider against a local OpenAI-compatible HTTP server (real sockets,
the real client): success, 429 then success, a timeout, malformed JSON then success,
and a second run that makes no request at all. The key never leaves the environment."""
import json
import logging

import pytest

from pipeline.describe.echo_server import EchoServer
from pipeline.describe.gsp import describe_all
from pipeline.describe.index import Retriever, build_index
from pipeline.describe.knowledge import KnowledgeBase, load_entries
from pipeline.describe.openai_provider import OpenAIProvider

SECRET = "sk-test-5ecret-do-not-leak"
STEPS_PER_CLASS = 4          # primary, refine, synonyms, decompose


@pytest.fixture()
def server():
    with EchoServer() as srv:
        yield srv


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    d = tmp_path_factory.mktemp("kb")
    (d / "dictionary.md").write_text(
        "HOUSE — Both hands in the B handshape meet at the fingertips. Origin: old.\n\n"
        "SHELTER — As in the sign HOUSE, but the mouth is rounded.\n\n"
        "B handshape — Fingers extended and held together, thumb folded across the palm.\n")
    index = tmp_path_factory.mktemp("index")
    build_index(load_entries(d), "minilm", index)
    base = KnowledgeBase(load_entries(d))
    return base, Retriever(index, base), d


def _cfg(server, **kw):
    return server.provider_cfg(**{"api_key_env": "GSPMC_TEST_KEY", "timeout_s": 0.5, "max_retries": 3,
                                  "concurrency": 2, **kw})


def _run(server, kb, cache_dir):
    base, retriever, d = kb
    provider = OpenAIProvider(_cfg(server), base, str(cache_dir))
    records = describe_all([(0, "HOUSE"), (1, "SHELTER")], "gsp", base, retriever, provider,
                           {"synonyms": 2, "top_k": 2, "min_score": 0.6, "allow_missing": False}, str(d), 2)
    return provider, records


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("GSPMC_TEST_KEY", SECRET)


@pytest.mark.parametrize("script,extra", [([], 0), (["429"], 1), (["500", "429"], 2), (["slow"], 1),
                                          (["garbage"], 1)])
def test_answers_retries_and_cache(server, kb, tmp_path, script, extra, caplog):
    server.script = list(script)
    with caplog.at_level(logging.DEBUG):
        provider, records = _run(server, kb, tmp_path / "cache")
    assert provider.requests == 2 * STEPS_PER_CLASS + extra
    assert len(server.requests) == provider.requests
    for r in records:
        assert r["global"].startswith(f"For {r['gloss']}: ") and len(r["synonyms"]) == 2
        assert {"right_hand", "face"} <= {p for s in r["parts"] for p in s["parts"]}
        assert r["provenance"]["provider"] == "openai" and r["provenance"]["model"] == "fake-model"
        assert r["provenance"]["flags"] == []          # grounded answers: nothing for review
    shelter = records[1]["provenance"]
    assert "house" in shelter["followed"] and "b-handshape" in shelter["followed"]
    # the refine prompt carried the entries it refers to
    refine_prompts = [b["messages"][-1]["content"] for b in server.requests
                      if b["response_format"]["json_schema"]["name"] == "refine"]
    assert any('headword="B handshape">Fingers extended' in p for p in refine_prompts)

    # a second run makes zero requests: every answer comes from the cache
    before = len(server.requests)
    again, records2 = _run(server, kb, tmp_path / "cache")
    assert again.requests == 0 and len(server.requests) == before
    assert again.cache_hits == 2 * STEPS_PER_CLASS
    assert records2 == records

    # the key reached the server and nothing else
    assert server.auth == {f"Bearer {SECRET}"}
    cached = "".join(p.read_text() for p in (tmp_path / "cache").rglob("*.json"))
    assert SECRET not in cached and SECRET not in json.dumps(records) and SECRET not in caplog.text


def test_gives_up_with_a_clear_error(server, kb, tmp_path):
    server.script = ["500"] * 20
    with pytest.raises(RuntimeError, match="gave up after 4 attempts"):
        _run(server, kb, tmp_path / "cache")


def test_missing_key_names_the_variable(server, kb, tmp_path, monkeypatch):
    monkeypatch.delenv("GSPMC_TEST_KEY")
    with pytest.raises(RuntimeError, match="GSPMC_TEST_KEY"):
        OpenAIProvider(_cfg(server), kb[0], str(tmp_path))


QUERY_SECRET = "q-5ecret-in-the-url"


def test_a_query_secret_comes_from_the_environment_and_is_recorded_nowhere(server, kb, tmp_path, monkeypatch,
                                                                          caplog):
    """describe.openai.query_env: the value travels in the request's query and nowhere else, not
    even in httpx's request log, which names every URL (issue 28)."""
    monkeypatch.setenv("GSPMC_TEST_QUERY", QUERY_SECRET)
    base, retriever, d = kb
    server.script = ["500"]           # a retried fault: its reason is logged
    with caplog.at_level(logging.DEBUG):
        provider = OpenAIProvider(_cfg(server, query_env={"api-key": "GSPMC_TEST_QUERY"}), base,
                                  str(tmp_path / "cache"))
        describe_all([(0, "HOUSE")], "gsp", base, retriever, provider,
                     {"synonyms": 2, "top_k": 2, "min_score": 0.6, "allow_missing": False}, str(d), 1)
    assert server.paths and all(p.endswith(f"?api-key={QUERY_SECRET}") for p in server.paths)
    cached = "".join(p.read_text() for p in (tmp_path / "cache").rglob("*.json"))
    for secret in (QUERY_SECRET, SECRET):
        assert secret not in cached and secret not in caplog.text
    assert "retrying" in caplog.text


def test_a_missing_query_variable_is_named(server, kb, tmp_path):
    with pytest.raises(RuntimeError, match=r"describe.openai.query_env.api-key names GSPMC_UNSET_QUERY"):
        OpenAIProvider(_cfg(server, query_env={"api-key": "GSPMC_UNSET_QUERY"}), kb[0], str(tmp_path))
