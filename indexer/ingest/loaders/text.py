"""Plain-text files, plus the shared checks every text-based loader runs before parsing."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from indexer.ingest.documents import LoadResult, Section, Skipped, SourceDocument

BINARY_SNIFF_BYTES = 8192
MAX_TITLE_CHARS = 100


def skipped(path: Path | str, reason: str) -> LoadResult:
    """A one-file result that records why the file was not used."""
    return LoadResult(skipped=[Skipped(str(path), reason)], files_read=1)


def read_text(path: Path) -> str | Skipped:
    """The file's text, or a Skipped saying why it is not usable text.

    Checked here rather than in each parser so every text format fails the same clear way.
    """
    source = str(path.resolve())
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return Skipped(source, exc.strerror or str(exc))
    if b"\x00" in raw[:BINARY_SNIFF_BYTES]:
        return Skipped(source, "binary file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Skipped(source, "not UTF-8 text")
    if not text.strip():
        return Skipped(source, "empty")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def one_document(
    path: Path, title: str | None, sections: list[Section], **fields: Any
) -> LoadResult:
    """A file that became exactly one document; an untitled file is named after its stem."""
    document = SourceDocument(
        source=str(path.resolve()),
        source_type="file",
        title=title or humanise(path.stem),
        sections=sections,
        **fields,
    )
    return LoadResult(documents=[document], files_read=1)


def humanise(stem: str) -> str:
    """'tensorflow-2_migration' -> 'Tensorflow 2 migration', for files without a title."""
    words = re.sub(r"[-_\s]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else stem


def load(path: Path) -> LoadResult:
    text = read_text(path)
    if isinstance(text, Skipped):
        return LoadResult(skipped=[text], files_read=1)
    body = text.strip()
    first_line = body.splitlines()[0].strip()
    title = first_line if len(first_line) < MAX_TITLE_CHARS else humanise(path.stem)
    return one_document(path, title, [Section(heading_path=(), text=body)])
