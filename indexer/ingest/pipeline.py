"""The ingest pipeline: loaded documents -> derived metadata -> chunks -> embeddings -> database
and index, idempotently.

Documents are written in batches, each batch one transaction that also bumps the index version,
so a crash leaves whole documents or none, and a stale index is detected and rebuilt on load.
Chunks are made batch by batch as the documents are written, so only one batch of them is held.
A changed document keeps the ids (and so the ratings) of the snippets whose text did not change.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload
from tqdm import tqdm

from indexer.answers import sentences
from indexer.embedding import Embedder, stored_embedding
from indexer.ingest.chunking import Chunk, chunk_document
from indexer.ingest.documents import LoadResult, Skipped, SourceDocument
from indexer.ingest.tagging import Derived, derive
from indexer.search.index_store import KnowledgeIndex, bump_version
from models import Document, DocumentAnswerer, Snippet, SnippetSentences

log = logging.getLogger(__name__)
T = TypeVar("T")
BATCH_CHUNKS = 256
SOURCE_LOOKUP_BATCH = 500
SENTENCE_FILL_BATCH = 256


@dataclass
class IngestSummary:
    files_read: int = 0
    documents_added: int = 0
    documents_updated: int = 0
    documents_unchanged: int = 0
    documents_removed: int = 0
    snippets_added: int = 0
    snippets_updated: int = 0
    snippets_unchanged: int = 0
    snippets_removed: int = 0
    skipped: list[Skipped] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"files read: {self.files_read}",
            f"documents: {self.documents_added} added, {self.documents_updated} updated, "
            f"{self.documents_removed} removed, {self.documents_unchanged} unchanged",
            f"snippets: {self.snippets_added} added, {self.snippets_updated} updated, "
            f"{self.snippets_removed} removed, {self.snippets_unchanged} unchanged",
        ]
        if self.skipped:
            out.append(f"skipped: {len(self.skipped)}")
            out.extend(f"  {_bounded(s.source)}: {_bounded(s.reason)}" for s in self.skipped)
        return out


def _bounded(text: str, limit: int = 300) -> str:
    """What a file said about itself, cut short: no input is ever echoed unbounded."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class _Pending:
    document: SourceDocument
    derived: Derived
    content_hash: str
    chunks: list[Chunk]


def group_of(source: str) -> str:
    """Items cut from one file (FAQ pairs) share the part of their source before '#'."""
    return source.split("#", 1)[0]


def batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _snippet_url(document: SourceDocument, anchor: str | None) -> str | None:
    if not document.url:
        return None
    return f"{document.url}#{anchor}" if anchor and "#" not in document.url else document.url


class Ingestor:
    def __init__(self, knowledge: KnowledgeIndex) -> None:
        self.knowledge = knowledge
        self.sessions = knowledge.sessions
        self.embedder = knowledge.embedder

    def ingest(
        self, loaded: LoadResult, prune_prefixes: Iterable[str] = (), progress: bool = False
    ) -> IngestSummary:
        summary = IngestSummary(files_read=loaded.files_read, skipped=list(loaded.skipped))
        self.knowledge.ensure_current()
        documents = self._unique(loaded.documents, summary)
        existing = self._existing_hashes([d.source for d in documents])
        written: set[str] = set()
        with tqdm(
            total=len(documents),
            unit="document",
            desc="ingesting",
            disable=not progress or None,
            leave=False,
        ) as bar:
            pending = self._pending(documents, existing, summary, bar)
            for batch in self._batches(pending):
                self._write_batch(batch, existing, summary)
                written.update(p.document.source for p in batch)
                bar.update(len(batch))
        produced = {d.source for d in documents}
        stale = self._stale_sources(produced, loaded, prune_prefixes)
        self._remove(stale, summary)
        self._fill_sentences()
        self.knowledge.save()
        summary.snippets_unchanged += self._count_unchanged_snippets(existing, written, stale)
        return summary

    @staticmethod
    def _pending(
        documents: list[SourceDocument],
        existing: dict[str, str],
        summary: IngestSummary,
        bar: tqdm,
    ) -> Iterator[_Pending]:
        """Changed documents with their chunks, chunked only when their batch is formed."""
        for document, derived in zip(documents, derive(documents), strict=True):
            content_hash = document.content_hash()
            if existing.get(document.source) == content_hash:
                summary.documents_unchanged += 1
                bar.update()
                continue
            chunks = chunk_document(document)
            if not chunks:
                summary.skipped.append(Skipped(document.source, "no text to index"))
                bar.update()
                continue
            yield _Pending(document, derived, content_hash, chunks)

    @staticmethod
    def _unique(documents: list[SourceDocument], summary: IngestSummary) -> list[SourceDocument]:
        seen: set[str] = set()
        unique = []
        for document in documents:
            if document.source in seen:
                summary.skipped.append(Skipped(document.source, "duplicate source in this batch"))
                continue
            seen.add(document.source)
            unique.append(document)
        return unique

    def _existing_hashes(self, sources: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        with self.sessions() as session:
            for part in batched(sources, SOURCE_LOOKUP_BATCH):
                rows = session.execute(
                    select(Document.source, Document.content_hash).where(Document.source.in_(part))
                )
                found.update({source: h for source, h in rows})
        return found

    @staticmethod
    def _batches(pending: Iterable[_Pending]) -> Iterator[list[_Pending]]:
        batch: list[_Pending] = []
        size = 0
        for item in pending:
            batch.append(item)
            size += len(item.chunks)
            if size >= BATCH_CHUNKS:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    def _write_batch(
        self, batch: list[_Pending], existing: dict[str, str], summary: IngestSummary
    ) -> None:
        removed: list[int] = []
        to_embed: list[tuple[Snippet, Chunk]] = []
        with self.sessions() as session, session.begin():
            rows = self._rows(session, [item.document.source for item in batch])
            for item in batch:
                row = rows.get(item.document.source)
                removed += self._upsert(session, item, row, to_embed, summary)
                if item.document.source in existing:
                    summary.documents_updated += 1
                else:
                    summary.documents_added += 1
            session.flush()
            texts = [chunk.embedding_text for _, chunk in to_embed]
            vectors = encode_with_sentences(
                session,
                self.embedder,
                texts,
                [(s.id, s.title, s.section, s.text, s.document.source_type) for s, _ in to_embed],
            )
            for (snippet, _), vector in zip(to_embed, vectors, strict=True):
                session.add(stored_embedding(snippet.id, vector, self.embedder))
            version = bump_version(session, self.embedder.name)
        added = [snippet.id for snippet, _ in to_embed]
        self.knowledge.apply(removed, added, vectors, texts, version)

    @staticmethod
    def _rows(session: Session, sources: list[str]) -> dict[str, Document]:
        """A batch's stored documents with their snippets, in two queries rather than two per
        document."""
        rows = session.scalars(
            select(Document)
            .where(Document.source.in_(sources))
            .options(selectinload(Document.snippets), selectinload(Document.answerers))
        )
        return {row.source: row for row in rows}

    def _upsert(
        self,
        session: Session,
        item: _Pending,
        row: Document | None,
        to_embed: list[tuple[Snippet, Chunk]],
        summary: IngestSummary,
    ) -> list[int]:
        """Write one document over its stored row, if any; return ids of snippets removed."""
        doc, derived = item.document, item.derived
        if row is None:
            row = Document(source=doc.source)
            session.add(row)
        row.source_type = doc.source_type
        row.title = doc.title
        row.url = doc.url
        row.content_hash = item.content_hash
        row.owner = doc.owner
        row.author_user_id = doc.author_user_id
        row.saved_by_user_id = doc.saved_by_user_id
        row.channel_id = doc.channel_id
        row.visibility = doc.visibility
        row.tags = derived.tags
        row.topic = derived.topic
        row.difficulty = derived.difficulty
        row.source_created_at = doc.created_at
        row.source_updated_at = doc.updated_at
        _set_answerers(row, dict(doc.answerers))
        old: dict[str, list[Snippet]] = {}
        for snippet in list(row.snippets):
            old.setdefault(snippet.content_hash, []).append(snippet)
        for chunk in item.chunks:
            reusable = old.get(chunk.content_hash)
            if reusable:
                snippet = reusable.pop()
            else:
                snippet = Snippet()
                row.snippets.append(snippet)
                session.add(snippet)
            before = self._fields(snippet) if snippet.id else None
            self._fill(snippet, row, doc, chunk)
            if before is None:
                summary.snippets_added += 1
                to_embed.append((snippet, chunk))
            elif before != self._fields(snippet):
                summary.snippets_updated += 1
            else:
                summary.snippets_unchanged += 1
        removed = [s.id for group in old.values() for s in group]
        for group in old.values():
            for snippet in group:
                row.snippets.remove(snippet)
        summary.snippets_removed += len(removed)
        return removed

    @staticmethod
    def _fields(snippet: Snippet) -> tuple[object, ...]:
        return (
            snippet.ordinal,
            snippet.url,
            snippet.author,
            snippet.channel_id,
            snippet.visibility,
            tuple(snippet.tags or ()),
            snippet.topic,
            snippet.difficulty,
        )

    @staticmethod
    def _fill(snippet: Snippet, row: Document, doc: SourceDocument, chunk: Chunk) -> None:
        snippet.ordinal = chunk.ordinal
        snippet.title = chunk.title
        snippet.section = chunk.section
        snippet.text = chunk.text
        snippet.url = _snippet_url(doc, chunk.anchor)
        snippet.author = doc.owner
        snippet.channel_id = doc.channel_id
        snippet.visibility = doc.visibility
        snippet.tags = list(row.tags)
        snippet.topic = row.topic
        snippet.difficulty = row.difficulty
        snippet.content_hash = chunk.content_hash

    def _stale_sources(
        self, produced: set[str], loaded: LoadResult, prune_prefixes: Iterable[str]
    ) -> list[str]:
        """Items gone from a file that was read (always), and sources gone from a pruned root.

        A file that exists but was skipped (say, a now-corrupt PDF) keeps its old snippets.
        """
        read_groups = {group_of(s) for s in produced if "#" in s}
        skipped = {s.source for s in loaded.skipped}
        stale: set[str] = set()
        with self.sessions() as session:
            for group in read_groups:
                rows = session.scalars(
                    select(Document.source).where(
                        Document.source.startswith(f"{group}#", autoescape=True)
                    )
                )
                stale.update(s for s in rows if s not in produced)
            for prefix in prune_prefixes:
                rows = session.scalars(
                    select(Document.source).where(
                        Document.source.startswith(prefix, autoescape=True)
                    )
                )
                stale.update(s for s in rows if s not in produced and group_of(s) not in skipped)
        return sorted(stale)

    def _remove(self, sources: list[str], summary: IngestSummary) -> None:
        for part in batched(sources, SOURCE_LOOKUP_BATCH):
            with self.sessions() as session, session.begin():
                snippet_ids = list(
                    session.scalars(
                        select(Snippet.id).join(Document).where(Document.source.in_(part))
                    )
                )
                session.execute(delete(Document).where(Document.source.in_(part)))
                version = bump_version(session, self.embedder.name)
            self.knowledge.apply(snippet_ids, [], np.zeros((0, self.embedder.dim)), [], version)
            summary.documents_removed += len(part)
            summary.snippets_removed += len(snippet_ids)

    def _fill_sentences(self) -> None:
        """Sentence vectors for snippets stored before the answer line quoted them: made once,
        without re-embedding the snippets."""
        missing = (
            select(Snippet.id, Snippet.title, Snippet.section, Snippet.text, Document.source_type)
            .join(Document, Document.id == Snippet.document_id)
            .outerjoin(SnippetSentences, SnippetSentences.snippet_id == Snippet.id)
            .where(SnippetSentences.snippet_id.is_(None))
            .order_by(Snippet.id)
            .limit(SENTENCE_FILL_BATCH)
        )
        with self.sessions() as session, session.begin():
            session.execute(
                delete(SnippetSentences).where(SnippetSentences.model != self.embedder.name)
            )
        while True:
            with self.sessions() as session, session.begin():
                rows = [tuple(row) for row in session.execute(missing)]
                if not rows:
                    return
                encode_with_sentences(session, self.embedder, [], rows)

    def _count_unchanged_snippets(
        self, existing: dict[str, str], written: set[str], stale: list[str]
    ) -> int:
        changed = written | set(stale)
        unchanged = [s for s in existing if s not in changed]
        total = 0
        with self.sessions() as session:
            for part in batched(unchanged, SOURCE_LOOKUP_BATCH):
                total += len(
                    session.scalars(
                        select(Snippet.id).join(Document).where(Document.source.in_(part))
                    ).all()
                )
        return total


def encode_with_sentences(
    session: Session,
    embedder: Embedder,
    texts: list[str],
    snippets: Sequence[tuple[int, str, str | None, str, str]],
) -> np.ndarray:
    """Vectors of `texts`, in one pass of the model with the quotable sentences of `snippets`
    (id, title, section, text, source type), whose vectors are added to `session`."""
    spots = [sentences.quotable(text, kind).spots for _, _, _, text, kind in snippets]
    inputs = [
        line
        for (_, title, section, _, _), found in zip(snippets, spots, strict=True)
        for line in sentences.sentence_inputs(title, section, found)
    ]
    encoded = embedder.encode(texts + inputs)
    start = len(texts)
    for (snippet_id, *_), found in zip(snippets, spots, strict=True):
        part = encoded[start : start + len(found)]
        session.add(sentences.to_row(snippet_id, part, embedder.name))
        start += len(found)
    return encoded[: len(texts)]


def _set_answerers(row: Document, wanted: dict[str, int]) -> None:
    """Changed in place: replacing the collection would insert a (document, person) row before
    deleting the old one with the same key."""
    for answerer in list(row.answerers):
        if answerer.user_id not in wanted:
            row.answerers.remove(answerer)
        else:
            answerer.weight = wanted.pop(answerer.user_id)
    row.answerers.extend(DocumentAnswerer(user_id=u, weight=w) for u, w in sorted(wanted.items()))
