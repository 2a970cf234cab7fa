"""Embedding cache keyed by (model, text): unchanged texts are never encoded twice,
across variants, reruns and training-only param changes. SQLite, so concurrent
snakemake jobs can share it."""
from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np


def text_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\0{text}".encode()).hexdigest()


class EmbeddingCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), timeout=60)
        self.db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, dim INTEGER, vec BLOB)")

    def get_many(self, model: str, texts: list[str]) -> dict[str, np.ndarray]:
        found = {}
        for text in texts:
            row = self.db.execute("SELECT dim, vec FROM emb WHERE key = ?", (text_key(model, text),)).fetchone()
            if row is not None:
                found[text] = np.frombuffer(row[1], dtype=np.float32).reshape(row[0])
        return found

    def put_many(self, model: str, items: dict[str, np.ndarray]) -> None:
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?, ?)",
                                [(text_key(model, t), int(v.shape[0]), np.asarray(v, np.float32).tobytes())
                                 for t, v in items.items()])

    def close(self) -> None:
        self.db.close()
