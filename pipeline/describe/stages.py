"""Entry points of the knowledge-base index and describe stages."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from ..data.manifest import read_classes
from ..io import atomic_dir, verify_folder, write_text
from ..names import GROUNDED_VARIANTS
from ..registry import load
from . import language
from .gsp import describe_all, knowledge_used
from .index import Retriever, build_index
from .knowledge import KnowledgeBase, load_entries

log = logging.getLogger(__name__)


def run_kb_index(params: dict, knowledge_dir: Path, out_dir: Path) -> None:
    entries = load_entries(knowledge_dir)
    with atomic_dir(out_dir, "kb-index") as tmp:
        build_index(entries, params["knowledge"]["encoder"], tmp)
    log.info("kb-index: %d entries from %s -> %s", len(entries), knowledge_dir, out_dir)


# describe.provider -> "module:class", imported when asked for (pipeline/registry.py): the
# OpenAI client is not needed offline. The params schema's enum is checked against these names.
PROVIDERS = {"offline": "pipeline.describe.offline:OfflineProvider",
             "openai": "pipeline.describe.openai_provider:OpenAIProvider"}


def make_provider(params: dict, kb: KnowledgeBase, languages: dict | None = None):
    cfg = params["describe"]
    if cfg["provider"] not in PROVIDERS:
        raise ValueError(f"describe.provider {cfg['provider']!r}: not one of {', '.join(PROVIDERS)}")
    return load(PROVIDERS[cfg["provider"]]).from_params(cfg, kb, languages)


class UnsupportedLanguage(ValueError):
    """The provider cannot read or write a language the dataset needs; one line, with the remedy."""


def require_languages(provider, languages: dict, classes_path: Path, knowledge_dir: Path, stated: dict) -> None:
    """Before any class is described: a provider that declares its languages (the offline
    composer: English) refuses glosses, entries or descriptions in any other."""
    supported = provider.LANGUAGES
    if supported is None:
        return
    where = {"glosses": f"the glosses of {classes_path}", "knowledge": f"the knowledge base {knowledge_dir}",
             "descriptions": "describe.languages.descriptions"}
    wrong = [f"{where[k]} {'are' if k == 'glosses' else 'is'} {language.name(code)} ({code}, "
             f"{'detected' if stated[k] == 'auto' else 'stated'})"
             for k, code in languages.items() if code not in supported]
    if wrong:
        raise UnsupportedLanguage(
            f"describe.provider: {provider.name} reads and writes {', '.join(language.name(c) for c in supported)} "
            f"only, but {' and '.join(wrong)}: set describe.provider: openai (an LLM endpoint, describe.openai) to "
            f"describe them, or state the languages in describe.languages if detection got them wrong")


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def retrieved_not_used(provenance: dict) -> list[str]:
    used = set(knowledge_used(provenance))
    return [i for i in provenance["retrieved"] if i not in used]


def _entry_name(kb: KnowledgeBase, entry_id: str, scores: dict) -> str:
    """An entry's headword (its id without one), with its retrieval score when it was retrieved."""
    head = kb.by_id[entry_id].headword or entry_id if entry_id in kb.by_id else entry_id
    return f"{head} ({scores[entry_id]:.2f})" if entry_id in scores else head


def table1_report(records: list[dict], kb: KnowledgeBase, n: int) -> str:
    """Paper Table 1: primary | knowledge | refined, for the first n classes. The knowledge
    column shows only entries the description used; entries retrieval returned but the
    provider did not use (the offline composer's top-k neighbours) are named apart, so the
    report never credits a description with knowledge it did not draw on. A retrieved entry
    shows its similarity to the label in brackets."""
    lines = ["| class | primary description | knowledge used | retrieved, not used | refined description |",
             "|---|---|---|---|---|"]
    for r in records[:n]:
        scores = r["provenance"].get("scores", {})
        knowledge = "<br>".join(f"**{_entry_name(kb, i, scores)}**: {kb.by_id[i].text}"
                                for i in knowledge_used(r["provenance"]) if i in kb.by_id)
        unused = ", ".join(_entry_name(kb, i, scores) for i in retrieved_not_used(r["provenance"]))
        lines.append(f"| {_cell(r['gloss'])} | {_cell(r['primary'])} | {_cell(knowledge) or '–'} | "
                     f"{_cell(unused) or '–'} | {_cell(r['global'])} |")
    return "\n".join(lines) + "\n"


def flags_report(records: list[dict]) -> str:
    """Every class whose generated text was flagged (checks.py), with field, check and detail."""
    flagged = [r for r in records if r["provenance"].get("flags")]
    if not flagged:
        return "No generated text was flagged (instruction-like or ungrounded text).\n"
    lines = [f"{len(flagged)} of {len(records)} classes have generated text flagged for review (kept, not "
             "dropped; provenance `flags`):", "", "| label | class | field | check | detail |", "|---|---|---|---|---|"]
    lines += [f"| {r['label']} | {_cell(r['gloss'])} | {f['field']} | {f['check']} | {_cell(f['detail'])} |"
              for r in flagged for f in r["provenance"]["flags"]]
    return "\n".join(lines) + "\n"


def run_describe(params: dict, variant: str, classes_path: Path, knowledge_dir: Path, index_dir: Path,
                 out: Path, report: Path) -> dict:
    cfg = params["describe"]
    if variant == "llm" and cfg["provider"] == "offline":
        raise ValueError("describe variant 'llm' (an LLM without the knowledge base) needs describe.provider: "
                         "openai; the offline composer only writes grounded descriptions")
    classes = read_classes(classes_path)
    kb = KnowledgeBase(load_entries(knowledge_dir))
    languages = language.resolve(cfg["languages"], classes["gloss"].tolist(), [e.text for e in kb.entries])
    provider = make_provider(params, kb, languages)
    if variant != "label":           # the label variant is the gloss itself: no provider reads anything
        require_languages(provider, languages, classes_path, knowledge_dir, cfg["languages"])
    # only the grounded variants retrieve; the others need no index (nor the encoder it loads)
    if variant in GROUNDED_VARIANTS:
        verify_folder(index_dir, "kb-index")
    retriever = Retriever(index_dir, kb) if variant in GROUNDED_VARIANTS else None
    t0 = time.perf_counter()
    records = describe_all(list(zip(classes["label"].tolist(), classes["gloss"].tolist())), variant, kb, retriever,
                           provider, cfg, str(knowledge_dir),
                           cfg["openai"]["concurrency"] if cfg["provider"] == "openai" else 1)
    seconds = time.perf_counter() - t0
    write_text(out, "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records))
    synonyms_from = sorted({str(r["provenance"]["synonyms_from"]) for r in records} - {"None"})
    write_text(report, f"# Descriptions ({variant}, provider {provider.name})\n\n"
               f"Glosses in {language.name(languages['glosses'])}, knowledge base in "
               f"{language.name(languages['knowledge'])}, descriptions in {language.name(languages['descriptions'])}; "
               f"synonyms (Eq. 4) from {', '.join(synonyms_from) or 'nothing (none written)'}.\n\n"
               + table1_report(records, kb, cfg["report_classes"])
               + "\n## Flagged for review\n\n" + flags_report(records))
    stats = {"classes": len(records), "seconds": seconds, "seconds_per_class": seconds / max(1, len(records)),
             "requests": getattr(provider, "requests", 0), "cache_hits": getattr(provider, "cache_hits", 0),
             "flagged": sum(bool(r["provenance"]["flags"]) for r in records), "languages": languages}
    log.info("describe %s: %d classes in %.1fs (%.3fs/class), %d requests, %d cache hits, %d flagged -> %s",
             variant, stats["classes"], seconds, stats["seconds_per_class"], stats["requests"], stats["cache_hits"],
             stats["flagged"], out)
    if stats["flagged"]:
        log.warning("describe %s: %d classes have generated text flagged for review; see %s", variant,
                    stats["flagged"], report)
    return stats
