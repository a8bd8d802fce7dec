"""Keeps a process's FAISS copy in agreement with the database.

The database's `index_state.version` is bumped in the same transaction as every snippet change.
An index is used only when its stored version and model match the database's; otherwise it is
rebuilt from stored embeddings (a crash mid-ingest, copied files, another process's ingest, or a
model change all end up here), so answers never come from an index that disagrees.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from indexer.embedding import Embedder, from_bytes, stored_embedding
from indexer.ingest.chunking import embedding_text
from indexer.search.lexical import LexicalBuilder, LexicalIndex
from indexer.search.vectors import IndexMeta, VectorIndex, training_size
from models import IndexState, Snippet, SnippetEmbedding

log = logging.getLogger(__name__)
READ_BATCH = 20_000
CHECK_INTERVAL = 1.0
LEXICAL_DRIFT = 0.1
EMBED_BATCH = 256


def index_state(session: Session) -> IndexState:
    """The workspace's state row (the session sees one workspace), created on first use."""
    state = session.scalars(select(IndexState)).first()
    if state is None:
        state = IndexState(version=0)
        session.add(state)
        session.flush()
    return state


def bump_version(session: Session, model: str) -> int:
    """Advance the version inside the caller's transaction (row-locked on PostgreSQL)."""
    index_state(session)
    session.execute(update(IndexState).values(version=IndexState.version + 1, model=model))
    return int(session.scalar(select(IndexState.version)) or 0)


class KnowledgeIndex:
    """The FAISS copy of one process, tagged with the database version it reflects."""

    def __init__(
        self, sessions: sessionmaker[Session], directory: Path, embedder: Embedder
    ) -> None:
        self.sessions = sessions
        self.directory = directory
        self.embedder = embedder
        self.index = VectorIndex.build(embedder.dim, np.zeros(0), np.zeros((0, embedder.dim)))
        self.lexical = LexicalIndex.build([], [])
        self.version = -1
        self._checked_at = -CHECK_INTERVAL

    def database_version(self) -> tuple[int, str | None]:
        with self.sessions() as session:
            state = session.scalars(select(IndexState)).first()
            return (state.version, state.model) if state else (0, None)

    def open(self) -> KnowledgeIndex:
        """Load the stored index if it agrees with the database, else repair it; return self."""
        self.ensure_model()
        version, _ = self.database_version()
        loaded = VectorIndex.load(self.directory)
        if loaded is not None:
            index, meta = loaded
            current = meta.version == version and meta.model == self.embedder.name
            if current and index.fits():
                self.index, self.version = index, version
                self._open_lexical()
                return self
            log.warning(
                "index on disk (version %s, %s, %s vectors as %s) does not suit the database "
                "(version %s, %s): rebuilding",
                meta.version,
                meta.model,
                meta.count,
                meta.kind,
                version,
                self.embedder.name,
            )
        self.rebuild()
        return self

    def ensure_current(self) -> None:
        """Open (load or repair) only if this copy does not already reflect the database."""
        version, model = self.database_version()
        if version != self.version or model not in (None, self.embedder.name):
            self.open()

    def refresh_if_stale(self) -> bool:
        """Reload when another process changed the knowledge; the database is asked at most
        once per CHECK_INTERVAL so a burst of questions costs one query, not one each."""
        now = time.monotonic()
        if now - self._checked_at < CHECK_INTERVAL:
            return False
        self._checked_at = now
        version, _ = self.database_version()
        if version == self.version:
            return False
        self.open()
        return True

    def rebuild(self) -> None:
        """Rebuild from stored embeddings and text, streamed in batches; nothing is re-embedded
        and neither all vectors nor all texts are ever held at once."""
        stored = select(SnippetEmbedding.snippet_id).where(
            SnippetEmbedding.model == self.embedder.name
        )
        with self.sessions() as session:
            version = index_state(session).version
            session.commit()
            all_ids = np.fromiter(session.scalars(stored), dtype=np.int64)
            rng = np.random.default_rng(0)
            wanted = min(len(all_ids), training_size(len(all_ids)))
            sample = np.sort(rng.choice(all_ids, wanted, replace=False)) if wanted else all_ids[:0]
            training = np.empty((len(sample), self.embedder.dim), dtype=np.float32)
            for begin in range(0, len(sample), READ_BATCH):
                part = sample[begin : begin + READ_BATCH].tolist()
                rows = session.execute(
                    select(SnippetEmbedding.vector)
                    .where(SnippetEmbedding.snippet_id.in_(part))
                    .order_by(SnippetEmbedding.snippet_id)
                )
                for n, (blob,) in enumerate(rows, begin):
                    training[n] = from_bytes(blob)
            index = VectorIndex.empty(self.embedder.dim, len(all_ids), training)
            del training, all_ids
            lexical = LexicalBuilder()
            ids: list[int] = []
            rows = session.execute(
                select(
                    SnippetEmbedding.snippet_id,
                    SnippetEmbedding.vector,
                    Snippet.title,
                    Snippet.section,
                    Snippet.text,
                )
                .join(Snippet, Snippet.id == SnippetEmbedding.snippet_id)
                .where(SnippetEmbedding.model == self.embedder.name)
                .order_by(SnippetEmbedding.snippet_id)
                .execution_options(yield_per=READ_BATCH)
            )
            for part in rows.partitions():
                index.add(
                    np.fromiter((r[0] for r in part), dtype=np.int64, count=len(part)),
                    np.stack([from_bytes(r[1]) for r in part]),
                )
                for snippet_id, _, title, section, text in part:
                    ids.append(snippet_id)
                    lexical.add(embedding_text(title, section, text))
        self.index = index
        self.lexical = lexical.finish(ids)
        self.version = version
        self.save()

    def _open_lexical(self) -> None:
        """BM25 from disk when it is at this index's version, else rebuilt from stored text."""
        loaded = LexicalIndex.load(self.directory)
        if loaded is not None and loaded[1] == self.version:
            self.lexical = loaded[0]
            return
        log.warning("keyword index on disk is missing or stale: rebuilding it")
        self.rebuild_lexical()
        self.lexical.save(self.directory, self.version)

    def rebuild_lexical(self) -> None:
        """Rebuild BM25 over the snippets the vector index holds, from their stored text."""
        ids = np.sort(self.index.ids())
        builder = LexicalBuilder()
        kept: list[int] = []
        with self.sessions() as session:
            for start in range(0, len(ids), READ_BATCH):
                rows = session.execute(
                    select(Snippet.id, Snippet.title, Snippet.section, Snippet.text)
                    .where(Snippet.id.in_(ids[start : start + READ_BATCH].tolist()))
                    .order_by(Snippet.id)
                )
                for snippet_id, title, section, text in rows:
                    kept.append(snippet_id)
                    builder.add(embedding_text(title, section, text))
        self.lexical = builder.finish(kept)

    def save(self) -> None:
        """Persist both indexes; rebuild FAISS first when its layout no longer suits its size,
        and BM25 when its statistics have drifted."""
        if not self.index.fits():
            self.rebuild()
            return
        if self.lexical.drift > LEXICAL_DRIFT:
            self.rebuild_lexical()
        meta = IndexMeta(
            version=self.version,
            model=self.embedder.name,
            dim=self.embedder.dim,
            count=len(self.index),
            kind=self.index.kind,
        )
        self.index.save(self.directory, meta)
        self.lexical.save(self.directory, self.version)

    def apply(
        self,
        removed: list[int],
        added: list[int],
        vectors: np.ndarray,
        texts: list[str],
        version: int,
    ) -> None:
        """Mirror a committed change; the caller saves when its batch of changes is done.

        `texts` are the added snippets' embedding texts, indexed lexically too.
        """
        self.index.remove(removed + added)
        self.index.add(np.asarray(added, dtype=np.int64), vectors)
        self.lexical.remove(removed)
        self.lexical.add(added, texts)
        self.version = version

    def ensure_model(self) -> int:
        """Re-embed every snippet when the configured model differs from the stored vectors'.

        Returns how many snippets were re-embedded. Vectors of two models never share an index.
        """
        with self.sessions() as session:
            state = index_state(session)
            session.commit()
            if state.model in (None, self.embedder.name):
                stale = (
                    session.scalar(
                        select(func.count())
                        .select_from(SnippetEmbedding)
                        .where(SnippetEmbedding.model != self.embedder.name)
                    )
                    or 0
                )
                if not stale:
                    return 0
            log.warning(
                "embedding model changed to %s: re-embedding every snippet", self.embedder.name
            )
            ids = list(session.scalars(select(Snippet.id).order_by(Snippet.id)))
        for start in range(0, len(ids), EMBED_BATCH):
            with self.sessions() as session, session.begin():
                batch = session.scalars(
                    select(Snippet).where(Snippet.id.in_(ids[start : start + EMBED_BATCH]))
                ).all()
                vectors = self.embedder.encode(
                    [embedding_text(s.title, s.section, s.text) for s in batch]
                )
                for snippet, vector in zip(batch, vectors, strict=True):
                    session.merge(stored_embedding(snippet.id, vector, self.embedder))
        with self.sessions() as session, session.begin():
            bump_version(session, self.embedder.name)
        return len(ids)
