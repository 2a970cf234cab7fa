"""The four GSP steps per class (paper Eqs. 3-6) and the Table 4 ablation variants.

Variants:
- ``label``: no LLM, the label name only;
- ``llm``: an LLM's description without the knowledge base (needs ``provider: openai``);
- ``kb``: the description grounded in the retrieved entries, unrefined;
- ``gsp``: grounded, refined (references resolved, remarks dropped), with synonyms and
  part segments: the full method.

Provenance: ``retrieved`` (the class's own entry, then the top-k retrieval), ``used`` (the
entries the provider's primary description was given or drew on: for the offline composer
only the own entry), ``followed`` (entries refinement resolved references through),
``synonym_source`` (Eq. 4: ``label`` or ``description``), ``flags`` (checks.py: generated text
that reads as instructions or is not grounded in the entries used; flagged, never dropped).
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from tqdm import tqdm

from .checks import review
from .knowledge import KnowledgeBase

log = logging.getLogger(__name__)


class MissingKnowledge(LookupError):
    pass


class ProviderError(RuntimeError):
    """A provider could not answer a step; ``describe_class`` prefixes the class it was for."""


def label_text(gloss: str) -> str:
    return gloss.lower().replace("-", " ")


def knowledge_used(provenance: dict) -> list[str]:
    """Entry ids the description drew on: what the primary was given, then what refinement followed."""
    return list(dict.fromkeys(provenance["used"] + provenance["followed"]))


def describe_class(label: int, gloss: str, variant: str, kb: KnowledgeBase, retriever, provider,
                   cfg: dict, kb_name: str) -> dict:
    try:
        record = _describe(label, gloss, variant, kb, retriever, provider, cfg, kb_name)
    except ProviderError as exc:
        raise type(exc)(f"class {label} ({gloss}): {exc}") from exc
    if variant != "label":
        flag_for_review(record, kb)
    return record


def flag_for_review(record: dict, kb: KnowledgeBase) -> None:
    """Provenance ``flags`` for generated text that reads as instructions or is not grounded in
    the entries the description used (none used: instructions only), and for used entries
    that carry instructions (an injection attempt, whether or not the model obeyed it).
    Warns and keeps the class."""
    prov = record["provenance"]
    entries = [kb.by_id[i] for i in knowledge_used(prov) if i in kb.by_id]
    sources = ([f"{e.headword or ''} {e.text}" for e in entries] + [record["gloss"]]) if entries else None
    texts = {"primary": record["primary"], "global": record["global"],
             **{f"synonyms[{k}]": s for k, s in enumerate(record["synonyms"])}}
    segments = {f"parts[{k}]": s["text"] for k, s in enumerate(record["parts"])}
    names = (record["gloss"], label_text(record["gloss"]))
    prov["flags"] = (review(texts, sources, names) + review(segments, None, names)
                     + review({f"entry {e.id}": e.text for e in entries}, None, names))
    if prov["flags"]:
        log.warning("class %s (%s): description flagged for review, kept: %s", record["label"], record["gloss"],
                    "; ".join(f"{f['field']} {f['check']} ({f['detail']})" for f in prov["flags"]))


def _describe(label: int, gloss: str, variant: str, kb: KnowledgeBase, retriever, provider,
              cfg: dict, kb_name: str) -> dict:
    provenance = {"provider": provider.name if variant != "label" else "none",
                  "model": provider.model if variant != "label" else None,
                  "prompt_version": provider.version if variant != "label" else None,
                  "variant": variant, "retrieved": [], "used": [], "followed": [], "unresolved": [],
                  "kb_missing": False, "flags": [],
                  "synonym_source": cfg["synonym_source"] if variant != "label" and cfg["synonyms"] else None}
    record = {"label": label, "gloss": gloss, "global": "", "synonyms": [], "parts": [], "primary": "",
              "provenance": provenance}
    if variant == "label":
        record["global"] = record["primary"] = label_text(gloss)
        return record
    if variant == "llm":
        primary = provider.primary(gloss, None, [])
    else:
        own = kb.lookup(gloss)
        retrieved = retriever.retrieve(gloss, cfg["top_k"])
        provenance["retrieved"] = ([own.id] if own else []) + [e.id for e in retrieved if e is not own]
        if own is None:
            if not cfg["allow_missing"]:
                raise MissingKnowledge(f"class {gloss!r} (label {label}) has no entry in the knowledge base "
                                       f"{kb_name}; add one or set describe.allow_missing: true")
            provenance["kb_missing"] = True
            log.warning("class %r has no knowledge-base entry: described from %s", gloss,
                        "the label only" if provider.name == "offline" else "retrieved neighbours")
        try:
            primary = provider.primary(gloss, own, retrieved)
            provenance["used"] = [e.id for e in provider.grounding(own, retrieved)]
        except LookupError:              # the offline composer needs the class's own entry
            primary = label_text(gloss)
    record["primary"] = primary
    text = primary
    if variant == "gsp" and not provenance["kb_missing"]:
        text, followed, unresolved = provider.refine(gloss, primary)
        provenance["followed"], provenance["unresolved"] = followed, unresolved
        if unresolved:
            log.warning("class %r: unresolved references %s", gloss, unresolved)
    if not text.strip():
        raise ValueError(f"class {gloss!r}: the {variant} description came out empty")
    record["global"] = text
    record["synonyms"] = make_synonyms(gloss, text, provenance, kb, provider, cfg)
    record["parts"] = provider.decompose(gloss, text)
    return record


def make_synonyms(gloss: str, text: str, provenance: dict, kb: KnowledgeBase, provider, cfg: dict) -> list[str]:
    """Eq. 4. ``label``: the synonyms are made from the label (P2, "The sign <>'s synonym"),
    not by rewording ``text``; the provider is given the entries the description was grounded
    in (used + followed: none for the ``llm`` variant). Eq. 4 names only the label and P2, but
    its LLM is the paper's knowledge-base-backed custom LLM (Fig. 3), the same one Eq. 3
    retrieves with, and an LLM given a bare gloss invents signs it does not know: the
    hallucination the knowledge base is there to prevent. ``description``: rewordings of ``text``."""
    n = cfg["synonyms"]
    if not n:
        return []
    if cfg["synonym_source"] == "description":
        return provider.synonyms(gloss, text, n)
    return provider.label_synonyms(gloss, n, text, [kb.by_id[i] for i in knowledge_used(provenance) if i in kb.by_id])


def describe_all(classes: list[tuple[int, str]], variant: str, kb: KnowledgeBase, retriever, provider,
                 cfg: dict, kb_name: str, workers: int) -> list[dict]:
    """Records in class order; classes run concurrently on ``workers`` threads."""
    def one(item):
        return describe_class(item[0], item[1], variant, kb, retriever, provider, cfg, kb_name)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        try:
            return list(tqdm(pool.map(one, classes), total=len(classes), desc=f"describe {variant}", disable=None))
        except BaseException:
            # one failed class fails the stage: the queued ones would only retry a failing endpoint
            pool.shutdown(wait=False, cancel_futures=True)
            raise
