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
``synonym_source`` (Eq. 4: ``label`` or ``description``).
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from tqdm import tqdm

from .knowledge import KnowledgeBase

log = logging.getLogger(__name__)

VARIANTS = ("label", "llm", "kb", "gsp")


class MissingKnowledge(LookupError):
    pass


def label_text(gloss: str) -> str:
    return gloss.lower().replace("-", " ")


def describe_class(label: int, gloss: str, variant: str, kb: KnowledgeBase, retriever, provider,
                   cfg: dict, kb_name: str) -> dict:
    provenance = {"provider": provider.name if variant != "label" else "none",
                  "model": provider.model if variant != "label" else None,
                  "prompt_version": provider.version if variant != "label" else None,
                  "variant": variant, "retrieved": [], "used": [], "followed": [], "unresolved": [],
                  "kb_missing": False,
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
    ids = dict.fromkeys(provenance["used"] + provenance["followed"])
    return provider.label_synonyms(gloss, n, text, [kb.by_id[i] for i in ids if i in kb.by_id])


def describe_all(classes: list[tuple[int, str]], variant: str, kb: KnowledgeBase, retriever, provider,
                 cfg: dict, kb_name: str, workers: int) -> list[dict]:
    """Records in class order; classes run concurrently on ``workers`` threads."""
    def one(item):
        return describe_class(item[0], item[1], variant, kb, retriever, provider, cfg, kb_name)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(tqdm(pool.map(one, classes), total=len(classes), desc=f"describe {variant}", disable=None))
