"""PDF files: one section per page so answers can link to the page."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from pypdf import PdfReader

from indexer.ingest.documents import LoadResult, Section
from indexer.ingest.loaders.text import one_document, skipped


def _reason(exc: Exception) -> str:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"unreadable PDF: {detail}"


def load(path: Path) -> LoadResult:
    source = str(path.resolve())
    try:
        data = path.read_bytes()
    except OSError as exc:
        return skipped(source, exc.strerror or str(exc))
    if not data.strip():
        return skipped(source, "empty")
    try:
        reader = PdfReader(BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            return skipped(source, "encrypted PDF (needs a password)")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        meta_title = reader.metadata.title if reader.metadata else None
    except Exception as exc:  # pypdf raises many types on malformed files; none may escape
        return skipped(source, _reason(exc))
    sections = [
        Section(heading_path=(), text=text, anchor=f"page={n}")
        for n, text in enumerate(pages, start=1)
        if text
    ]
    if not sections:
        return skipped(source, "no extractable text (scanned or image-only PDF?)")
    title = meta_title.strip() if isinstance(meta_title, str) and meta_title.strip() else None
    return one_document(path, title, sections)
