"""Dictionary entries from a knowledge-base folder (txt, md, csv, pdf).

An entry is a paragraph ``HEADWORD — text`` (em dash, en dash, ' - ' or ':' after a
short headword) or a CSV row (headword column + text column). Entries without a
headword keep their text and get a positional id. Ids are stable slugs of the
headword, so provenance can name exactly which entries a description used.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from .clean import clean_text

SUFFIXES = (".txt", ".md", ".csv", ".pdf")
_HEAD = re.compile(r"^\s*([^\n—–:]{1,60}?)(?:\s*[—–:]|\s+-)\s+(.+)$", re.S)
_HEADWORD_COLUMNS = ("headword", "gloss", "sign", "word", "term", "entry")
_TEXT_COLUMNS = ("text", "description", "definition", "body")


class KnowledgeFileError(ValueError):
    """A file of the knowledge folder that cannot be read; the message names it."""


@dataclass(frozen=True)
class Entry:
    id: str
    headword: str | None
    text: str
    source: str


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "entry"


def _paragraphs(text: str) -> list[str]:
    paras = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    return [p for p in paras if p and not p.startswith("#")]


def _from_paragraph(para: str) -> tuple[str | None, str]:
    m = _HEAD.match(para)
    if m and len(m.group(1).split()) <= 4:
        return m.group(1).strip(), m.group(2).strip()
    return None, para


# PDF text extraction loses blank lines, so there a new entry also starts at a line that
# opens with an upper-case headword (or "X handshape") and a separator.
_PDF_ENTRY_START = re.compile(r"^(?:[A-Z0-9][A-Z0-9' -]{0,40}|[\w-]+ handshape)\s*(?:—|–|-|:)\s")


def _read_pdf(path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PyPdfError

    try:
        pages = [page.extract_text() or "" for page in PdfReader(str(path)).pages]
    except FileNotDecryptedError as exc:
        raise KnowledgeFileError(f"{path}: an encrypted PDF; save a decrypted copy in its place") from exc
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:    # what pypdf raises on a damaged file
        raise KnowledgeFileError(f"{path}: not a readable PDF ({type(exc).__name__}: {exc})") from exc
    lines = "\n".join(pages).splitlines()
    return "\n".join(("\n" + line) if _PDF_ENTRY_START.match(line) else line for line in lines)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise KnowledgeFileError(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); a binary file, or "
                                 f"text in another encoding: save it as UTF-8") from exc


def _read_csv(path: Path) -> list[tuple[str | None, str]]:
    rows = list(csv.DictReader(io.StringIO(_read_text(path))))
    if not rows:
        return []
    cols = {c.lower().strip(): c for c in rows[0].keys() if c}
    head = next((cols[c] for c in _HEADWORD_COLUMNS if c in cols), None)
    body = next((cols[c] for c in _TEXT_COLUMNS if c in cols), None)
    if body is None:
        raise ValueError(f"{path}: a knowledge-base CSV needs a text column "
                         f"(one of {', '.join(_TEXT_COLUMNS)}); got {', '.join(cols)}")
    return [((r[head] or "").strip() or None if head else None, (r[body] or "").strip())
            for r in rows if (r[body] or "").strip()]


def load_entries(folder: str | Path) -> list[Entry]:
    """Every entry of every supported file under ``folder`` (sorted, recursive)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"knowledge base {folder}: not a directory")
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)
    special = [p for p in files if not p.is_file()]
    if special:        # a FIFO would block the read; a folder named x.md is not an entry file
        raise KnowledgeFileError(f"{special[0]}: not a regular file; remove it from the knowledge folder")
    for path in tqdm(files, desc="knowledge files", unit="file", disable=None):
        rel = str(path.relative_to(folder))
        if path.suffix.lower() == ".csv":
            items = _read_csv(path)
        else:
            text = _read_pdf(path) if path.suffix.lower() == ".pdf" else _read_text(path)
            items = [_from_paragraph(p) for p in _paragraphs(text)]
        for k, (headword, body) in enumerate(items):
            base = slug(headword) if headword else f"{slug(rel)}-{k}"
            n = seen.get(base, 0)
            seen[base] = n + 1
            entries.append(Entry(base if n == 0 else f"{base}-{n + 1}", headword and clean_text(headword),
                                 clean_text(body), rel))
    if not entries:
        raise ValueError(f"knowledge base {folder}: no entries in any {'/'.join(SUFFIXES)} file")
    return entries


class KnowledgeBase:
    """Entries with exact headword lookup (case-insensitive)."""

    def __init__(self, entries: list[Entry]):
        self.entries = entries
        self.by_id = {e.id: e for e in entries}
        self._by_head: dict[str, Entry] = {}
        for e in entries:
            if e.headword:
                self._by_head.setdefault(e.headword.lower(), e)

    def lookup(self, headword: str) -> Entry | None:
        return self._by_head.get(headword.lower().strip())
