"""The knowledge-base vector index: llama-index over the dictionary entries, embedded
with a sentence encoder from pipeline.text (offline MiniLM by default), persisted to
disk so describe runs load it instead of re-embedding.

An entry with a headword is indexed by its headword, an entry without one by its text. The
query is a class's label, a name, and names compare with names: embedded as "headword — text",
"thanks" scored 0.22 against "thank you — The flat hand ..." and 0.15-0.19 against unrelated
entries, while "bicycle" scored 0.30 against the entry for "car" (MiniLM, a 8-entry dictionary);
by headword, "thanks" -> "thank you" is 0.77 and "bicycle" -> "bike" 0.92. Retrieval returns
each entry's cosine, which ``describe.min_score`` thresholds (describe/gsp.py)."""
from __future__ import annotations

import json
import logging
from pathlib import Path

from .knowledge import Entry, KnowledgeBase

log = logging.getLogger(__name__)


def _embedding(encoder: str):
    from llama_index.core.embeddings import BaseEmbedding

    from ..text.encoders import encode

    class SentenceEncoderEmbedding(BaseEmbedding):
        """llama-index adapter over pipeline.text.encoders (no hub access)."""
        model_name: str = encoder

        def _get_query_embedding(self, query: str) -> list[float]:
            return encode(self.model_name, [query])[0].tolist()

        def _get_text_embedding(self, text: str) -> list[float]:
            return encode(self.model_name, [text])[0].tolist()

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return encode(self.model_name, texts).tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    return SentenceEncoderEmbedding()


INDEX_FORMAT = 2      # 2: entries keyed by headword (1: by "headword — text")


def build_index(entries: list[Entry], encoder: str, out_dir: Path) -> None:
    """Embed every entry (its headword, or its text when it has none) and persist the index
    into ``out_dir``."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.schema import TextNode

    nodes = [TextNode(id_=e.id, text=e.headword or e.text, metadata={"source": e.source},
                      excluded_embed_metadata_keys=["source"], excluded_llm_metadata_keys=["source"])
             for e in entries]
    # a large dictionary embeds for minutes: llama-index's progress bars show it
    index = VectorStoreIndex(nodes, embed_model=_embedding(encoder), show_progress=True)
    # llama-index names an index by a random UUID: a fixed id makes a rebuild byte-identical, so
    # DVC does not rerun describe after rebuilding an unchanged index
    index.set_index_id("gspmc-kb")
    index.storage_context.persist(persist_dir=str(out_dir))
    (out_dir / "gspmc_index.json").write_text(json.dumps({"encoder": encoder, "entries": len(entries),
                                                          "format": INDEX_FORMAT}))


class Retriever:
    """Top-k entries for a query from a persisted index, each with its cosine similarity."""

    def __init__(self, index_dir: Path, kb: KnowledgeBase):
        from llama_index.core import StorageContext, load_index_from_storage

        meta = json.loads((Path(index_dir) / "gspmc_index.json").read_text())
        if meta.get("format") != INDEX_FORMAT:
            raise ValueError(f"{index_dir}: a knowledge-base index of an older format; rebuild it "
                             f"(snakemake --forcerun kb_index, or dvc repro kb_index)")
        ctx = StorageContext.from_defaults(persist_dir=str(index_dir))
        self.index = load_index_from_storage(ctx, embed_model=_embedding(meta["encoder"]))
        self.kb = kb

    def retrieve(self, query: str, top_k: int) -> list[tuple[Entry, float]]:
        """The ``top_k`` entries nearest ``query``, best first, with their cosine similarity."""
        hits = self.index.as_retriever(similarity_top_k=top_k).retrieve(query)
        return [(self.kb.by_id[h.node.id_], float(h.score)) for h in hits if h.node.id_ in self.kb.by_id]
