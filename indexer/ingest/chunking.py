"""Heading-aware chunking: snippets stay inside one section, so a result's heading path is true.

Sizes are in words. all-MiniLM-L6-v2 reads at most 256 word pieces (about 190 English words), so
a chunk of 170 words plus its title and heading path fits without silent truncation; 30 words of
overlap keep a sentence cut at a boundary findable from both sides.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from indexer.ingest.documents import Section, SourceDocument

MAX_WORDS = 170
OVERLAP_WORDS = 30
FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    title: str
    heading_path: tuple[str, ...]
    text: str
    anchor: str | None

    @property
    def section(self) -> str | None:
        return " > ".join(self.heading_path) or None

    @property
    def embedding_text(self) -> str:
        return embedding_text(self.title, self.section, self.text)

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(self.embedding_text.encode("utf-8")).hexdigest()


def embedding_text(title: str, section: str | None, text: str) -> str:
    """What the model sees: the title and heading path carry meaning the body often omits."""
    head = f"{title} > {section}" if section else title
    return f"{head}\n\n{text}"


def _blocks(text: str) -> list[str]:
    """Paragraphs, with fenced code kept whole even when it contains blank lines."""
    blocks: list[str] = []
    current: list[str] = []
    in_fence = False
    for line in text.splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
        if not line.strip() and not in_fence:
            if current:
                blocks.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def _split_long(block: str, max_words: int, overlap: int) -> list[str]:
    words = block.split()
    step = max_words - overlap
    return [
        " ".join(words[i : i + max_words]) for i in range(0, max(len(words) - overlap, 1), step)
    ]


def _pack(section: Section, max_words: int, overlap: int) -> list[str]:
    if section.atomic:
        return [section.text.strip()] if section.text.strip() else []
    pieces: list[str] = []
    for block in _blocks(section.text):
        if len(block.split()) > max_words:
            pieces.extend(_split_long(block, max_words, overlap))
        else:
            pieces.append(block)
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for piece in pieces:
        words = len(piece.split())
        if current and size + words > max_words:
            chunks.append("\n\n".join(current))
            tail = " ".join(chunks[-1].split()[-overlap:]) if overlap else ""
            current, size = ([tail], len(tail.split())) if tail else ([], 0)
            if size + words > max_words:
                current, size = [], 0
        current.append(piece)
        size += words
    if current:
        chunks.append("\n\n".join(current))
    return chunks


def chunk_document(
    document: SourceDocument, max_words: int = MAX_WORDS, overlap: int = OVERLAP_WORDS
) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in document.sections:
        for text in _pack(section, max_words, overlap):
            chunks.append(
                Chunk(
                    ordinal=len(chunks),
                    title=document.title,
                    heading_path=section.heading_path,
                    text=text,
                    anchor=section.anchor,
                )
            )
    return chunks
