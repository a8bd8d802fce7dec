"""reStructuredText files, split at section titles without needing docutils."""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from indexer.ingest.documents import LoadResult, Section, Skipped
from indexer.ingest.loaders.text import one_document, read_text, skipped

_ADORNMENT_CHARS = re.escape(string.punctuation)
_ADORNMENT = re.compile(rf"([{_ADORNMENT_CHARS}])\1+")


def docutils_id(title: str) -> str:
    """The id docutils gives a section: ASCII, lowercase, runs of other characters -> '-'."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower())
    return re.sub(r"^[^a-z]+", "", slug).rstrip("-")


def _adornment(line: str) -> str | None:
    """The adornment character if the line is only a repeated punctuation character."""
    match = _ADORNMENT.fullmatch(line.rstrip())
    return match.group(1) if match else None


@dataclass
class _Block:
    heading: tuple[tuple[str, bool], str] | None
    lines: list[str] = field(default_factory=list)


def _heading_at(lines: list[str], i: int) -> tuple[tuple[str, bool], str, int] | None:
    """(style, title, lines used) when a section title starts at line i."""
    if i > 0 and lines[i - 1].strip():
        return None
    line = lines[i]
    over = _adornment(line)
    if over and i + 2 < len(lines):
        title, under = lines[i + 1].strip(), lines[i + 2].rstrip()
        if title and _adornment(under) == over and len(under) >= len(title):
            return (over, True), title, 3
    if not line.strip() or line[0].isspace() or over or i + 1 >= len(lines):
        return None
    under_char = _adornment(lines[i + 1])
    if under_char and len(lines[i + 1].rstrip()) >= len(line.rstrip()):
        return (under_char, False), line.strip(), 2
    return None


def _blocks(text: str) -> list[_Block]:
    lines = text.split("\n")
    blocks = [_Block(None)]
    i = 0
    while i < len(lines):
        found = _heading_at(lines, i)
        if found is None:
            blocks[-1].lines.append(lines[i])
            i += 1
            continue
        style, title, used = found
        blocks.append(_Block((style, title)))
        i += used
    return blocks


def load(path: Path) -> LoadResult:
    source = str(path.resolve())
    text = read_text(path)
    if isinstance(text, Skipped):
        return LoadResult(skipped=[text], files_read=1)
    blocks = _blocks(text)
    styles: list[tuple[str, bool]] = []
    stack: list[tuple[int, str]] = []
    sections: list[Section] = []
    title = next((b.heading[1] for b in blocks if b.heading), None)
    for block in blocks:
        anchor = None
        if block.heading is not None:
            style, heading = block.heading
            if style not in styles:
                styles.append(style)
            level = styles.index(style)
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading))
            anchor = docutils_id(heading) or None
        body = "\n".join(block.lines).strip("\n").rstrip()
        if not body.strip():
            continue
        heading_path = tuple(h for lvl, h in stack if not (lvl == 0 and h == title))
        sections.append(Section(heading_path=heading_path, text=body, anchor=anchor))
    if not sections:
        return skipped(source, "empty")
    return one_document(path, title, sections)
