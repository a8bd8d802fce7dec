"""FAQ files (CSV or JSON): one document per question/answer pair, kept whole."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from indexer.ingest.documents import LoadResult, Section, Skipped, SourceDocument
from indexer.ingest.loaders.markdown import parse_metadata
from indexer.ingest.loaders.text import read_text, skipped

NOT_FAQ = "not an FAQ file (needs question and answer columns)"
_KEY_CHARS = re.compile(r"[^\w]+")
_MAX_KEY_CHARS = 80


def _key(question: str) -> str:
    """A slug of the question, so editing one pair never renames the others."""
    slug = _KEY_CHARS.sub("-", question.lower()).strip("-_")[:_MAX_KEY_CHARS].rstrip("-_")
    return slug or "question"


def _unique(key: str, used: set[str]) -> str:
    """Later duplicates get -2, -3...; the first keeps the plain key."""
    candidate, n = key, 1
    while candidate in used:
        n += 1
        candidate = f"{key}-{n}"
    used.add(candidate)
    return candidate


def _csv_rows(text: str) -> Iterator[tuple[str, dict[str, Any]]] | str:
    reader = csv.DictReader(io.StringIO(text))
    try:
        header = {str(name).strip().lower() for name in reader.fieldnames or ()}
    except csv.Error as exc:
        return f"malformed CSV: {exc}"
    if not {"question", "answer"} <= header:
        return NOT_FAQ

    def rows() -> Iterator[tuple[str, dict[str, Any]]]:
        for row in reader:
            cells = {k.strip().lower(): v for k, v in row.items() if isinstance(k, str)}
            yield f"line {reader.line_num}", cells

    return rows()


def _json_rows(text: str) -> Iterator[tuple[str, dict[str, Any]]] | str:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"invalid JSON at line {exc.lineno}: {exc.msg}"
    items = data.get("faq") if isinstance(data, dict) else data
    if not isinstance(items, list):
        return NOT_FAQ
    lowered = [
        {str(k).strip().lower(): v for k, v in item.items()} if isinstance(item, dict) else None
        for item in items
    ]
    if not any(item and {"question", "answer"} <= item.keys() for item in lowered):
        return NOT_FAQ
    return ((f"item {n}", item or {}) for n, item in enumerate(lowered, start=1))


def _pair(source: str, where: str, row: Mapping[str, Any]) -> SourceDocument | Skipped:
    question = str(row.get("question") or "").strip()
    answer = str(row.get("answer") or "").strip()
    if not question or not answer:
        missing = "question" if not question else "answer"
        return Skipped(source, f"{where}: empty {missing}")
    extra = {k: v for k, v in row.items() if k not in ("question", "answer", "title")}
    try:
        meta = parse_metadata(extra)
    except ValueError as exc:
        return Skipped(source, f"{where}: {exc}")
    return SourceDocument(
        source=source,
        source_type="faq",
        title=question,
        sections=[Section(heading_path=(), text=f"Q: {question}\nA: {answer}", atomic=True)],
        **meta.document_fields(),
    )


def load(path: Path) -> LoadResult:
    resolved = str(path.resolve())
    text = read_text(path)
    if isinstance(text, Skipped):
        return LoadResult(skipped=[text], files_read=1)
    is_json = path.suffix.lower() == ".json"
    rows = _json_rows(text) if is_json else _csv_rows(text)
    if isinstance(rows, str):
        return skipped(resolved, rows)
    result = LoadResult(files_read=1)
    used: set[str] = set()
    try:
        for where, row in rows:
            item = _pair(resolved, where, row)
            if isinstance(item, Skipped):
                result.skipped.append(item)
                continue
            item.source = f"{resolved}#{_unique(_key(item.title), used)}"
            result.documents.append(item)
    except csv.Error as exc:
        result.skipped.append(Skipped(resolved, f"malformed CSV: {exc}"))
    if not result.documents and not result.skipped:
        return skipped(resolved, "empty")
    return result
