"""The four GSP steps per class (paper Eqs. 3-6) and the Table 4 ablation variants.

Variants:
- ``label``: no LLM, the label name only;
- ``llm``: an LLM's description without the knowledge base (needs ``provider: openai``);
- ``kb``: the description grounded in the retrieved entries, unrefined;
- ``gsp``: grounded, refined (references resolved, remarks dropped), with synonyms and
  part segments: the full method.

Retrieval drives the text: the entries a description is composed from are the class's own
entry (a headword that is the gloss) and the top-k retrieved entries scoring
``describe.min_score`` or more; a dictionary whose headwords are not the glosses ("thank you"
for THANKS) is used through retrieval alone. The offline composer takes the first of them, a
language model is given them all.

Provenance: ``retrieved`` (the class's own entry, then the top-k retrieval) with ``scores``
(each retrieved entry's cosine to the label), ``used`` (the entries the primary description was
composed from), ``followed`` (entries refinement resolved references through),
``synonyms_from`` (Eq. 4's source: ``wordnet``, ``label`` (label-only variants, degenerate) or
``llm``), ``flags`` (checks.py: generated text that reads as instructions or is not grounded in
the entries used; flagged, never dropped).
"""
from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from tqdm import tqdm

from .checks import review
from .clean import clean_strings
from .knowledge import Entry, KnowledgeBase

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
    # what a model wrote is stored without control or bidi characters; the gloss stays the class's own
    record = {**clean_strings(record), "gloss": gloss}
    if variant != "label":
        languages = provider.languages
        flag_for_review(record, kb, languages["knowledge"] == languages["descriptions"])
    return record


def flag_for_review(record: dict, kb: KnowledgeBase, check_grounding: bool = True) -> None:
    """Provenance ``flags`` for generated text that reads as instructions or is not grounded in
    the entries the description used (none used: instructions only), and for used entries
    that carry instructions (an injection attempt, whether or not the model obeyed it).
    Warns and keeps the class. Synonyms are held to the entries only when a language model
    wrote them from them (WordNet's words for the label are not in any entry), and nothing is
    when the entries are in another language than the descriptions (``check_grounding`` False:
    word overlap then measures the translation, not the grounding)."""
    prov = record["provenance"]
    entries = [kb.by_id[i] for i in knowledge_used(prov) if i in kb.by_id]
    sources = ([f"{e.headword or ''} {e.text}" for e in entries] + [record["gloss"]]) \
        if entries and check_grounding else None
    synonyms = {f"synonyms[{k}]": s for k, s in enumerate(record["synonyms"])}
    llm_synonyms = prov["synonyms_from"] == "llm"
    texts = {"primary": record["primary"], "global": record["global"], **(synonyms if llm_synonyms else {})}
    segments = {f"parts[{k}]": s["text"] for k, s in enumerate(record["parts"])}
    names = (record["gloss"], label_text(record["gloss"]))
    prov["flags"] = (review(texts, sources, names) + review({**segments, **({} if llm_synonyms else synonyms)},
                                                            None, names)
                     + review({f"entry {e.id}": e.text for e in entries}, None, names))
    if prov["flags"]:
        log.warning("class %s (%s): description flagged for review, kept: %s", record["label"], record["gloss"],
                    "; ".join(f"{f['field']} {f['check']} ({f['detail']})" for f in prov["flags"]))


def grounding_entries(own: Entry | None, hits: list[tuple[Entry, float]], min_score: float) -> list[Entry]:
    """The entries a class's description may be composed from: its own entry first when a
    headword is the gloss, then the retrieved ones scoring ``min_score`` or more, best first."""
    return ([own] if own else []) + [e for e, score in hits if e is not own and score >= min_score]


def _missing_message(gloss: str, label: int, kb_name: str, hits: list[tuple[Entry, float]], min_score: float) -> str:
    best = f"the best, {hits[0][0].headword or hits[0][0].id!r}, scores {hits[0][1]:.2f}" if hits else "none retrieved"
    return (f"class {gloss!r} (label {label}) has no usable entry in the knowledge base {kb_name}: no headword is the "
            f"gloss and no retrieved entry scores describe.min_score {min_score} or more ({best}); add an entry, "
            f"lower describe.min_score or set describe.allow_missing: true")


def _describe(label: int, gloss: str, variant: str, kb: KnowledgeBase, retriever, provider,
              cfg: dict, kb_name: str) -> dict:
    provenance = {"provider": provider.name if variant != "label" else "none",
                  "model": provider.model if variant != "label" else None,
                  "prompt_version": provider.version if variant != "label" else None,
                  "variant": variant, "retrieved": [], "scores": {}, "used": [], "followed": [], "unresolved": [],
                  "kb_missing": False, "flags": [], "synonyms_from": None}
    record = {"label": label, "gloss": gloss, "global": "", "synonyms": [], "parts": [], "primary": "",
              "provenance": provenance}
    if variant == "label":
        record["global"] = record["primary"] = label_text(gloss)
        return record
    entries: list[Entry] = []
    if variant != "llm":
        own = kb.lookup(gloss)
        hits = retriever.retrieve(label_text(gloss), cfg["top_k"])
        provenance["retrieved"] = ([own.id] if own else []) + [e.id for e, _ in hits if e is not own]
        provenance["scores"] = {e.id: round(score, 4) for e, score in hits}
        entries = grounding_entries(own, hits, cfg["min_score"])
        if not entries:
            if not cfg["allow_missing"]:
                raise MissingKnowledge(_missing_message(gloss, label, kb_name, hits, cfg["min_score"]))
            provenance["kb_missing"] = True
            log.warning("class %r has no usable knowledge-base entry: described from %s", gloss,
                        "the label only" if provider.name == "offline" else "the model's own knowledge")
    try:
        primary = provider.primary(gloss, entries)
        provenance["used"] = [e.id for e in provider.grounding(entries)]
    except LookupError:              # the offline composer writes nothing without an entry
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
    if cfg["synonyms"]:
        # Eq. 4: from the label (and, for a language model, the entries the description was
        # grounded in), never from the description
        record["synonyms"], provenance["synonyms_from"] = provider.synonyms(
            gloss, cfg["synonyms"], [kb.by_id[i] for i in knowledge_used(provenance) if i in kb.by_id])
    record["parts"] = provider.decompose(gloss, text)
    return record


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
