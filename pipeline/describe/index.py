"""The knowledge-base vector index: llama-index over the dictionary entries, embedded
with a sentence encoder from pipeline.text (offline MiniLM by default), persisted to
disk so describe runs load it instead of re-embedding."""
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


def build_index(entries: list[Entry], encoder: str, out_dir: Path) -> None:
    """Embed every entry (headword + text) and persist the index into ``out_dir``."""
    from llama_index.core import VectorStoreIndex
    from llama_index.core.schema import TextNode

    nodes = [TextNode(id_=e.id, text=f"{e.headword} — {e.text}" if e.headword else e.text,
                      metadata={"headword": e.headword or "", "source": e.source}) for e in entries]
    index = VectorStoreIndex(nodes, embed_model=_embedding(encoder), show_progress=False)
    # llama-index names an index by a random UUID: a fixed id makes a rebuild byte-identical, so
    # DVC does not rerun describe after rebuilding an unchanged index
    index.set_index_id("gspmc-kb")
    index.storage_context.persist(persist_dir=str(out_dir))
    (out_dir / "gspmc_index.json").write_text(json.dumps({"encoder": encoder, "entries": len(entries)}))


class Retriever:
    """Top-k entries for a query from a persisted index."""

    def __init__(self, index_dir: Path, kb: KnowledgeBase):
        from llama_index.core import StorageContext, load_index_from_storage

        meta = json.loads((Path(index_dir) / "gspmc_index.json").read_text())
        ctx = StorageContext.from_defaults(persist_dir=str(index_dir))
        self.index = load_index_from_storage(ctx, embed_model=_embedding(meta["encoder"]))
        self.kb = kb

    def retrieve(self, query: str, top_k: int) -> list[Entry]:
        hits = self.index.as_retriever(similarity_top_k=top_k).retrieve(query)
        return [self.kb.by_id[h.node.id_] for h in hits if h.node.id_ in self.kb.by_id]
