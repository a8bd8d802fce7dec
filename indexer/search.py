"""Dense retrieval over the knowledge index: the query's embedding against FAISS, results joined
with their snippets' metadata from the database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from indexer.index_store import KnowledgeIndex
from models import Snippet
from models.knowledge import PUBLIC

CANDIDATE_FACTOR = 4


@dataclass(frozen=True)
class SearchResult:
    snippet_id: int
    title: str
    section: str | None
    text: str
    url: str | None
    source: str
    tags: list[str]
    topic: str | None
    score: float

    @property
    def link(self) -> str:
        """Where a person goes to read more: the URL, else the source path."""
        return self.url or self.source


class Searcher:
    def __init__(self, knowledge: KnowledgeIndex) -> None:
        self.knowledge = knowledge

    def search(
        self, query: str, limit: int = 5, channels: frozenset[str] = frozenset()
    ) -> list[SearchResult]:
        """Top `limit` snippets; channel-restricted ones only for members of `channels`."""
        query = query.strip()
        if not query:
            return []
        self.knowledge.refresh_if_stale()
        vector = self.knowledge.embedder.encode([query])
        scores, ids = self.knowledge.index.search(vector, limit * CANDIDATE_FACTOR)
        ranked = [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        with self.knowledge.sessions() as session:
            rows = session.scalars(
                select(Snippet)
                .options(selectinload(Snippet.document))
                .where(Snippet.id.in_([i for i, _ in ranked]))
            ).all()
            by_id = {s.id: s for s in rows}
            visible = [
                SearchResult(
                    snippet_id=s.id,
                    title=s.title,
                    section=s.section,
                    text=s.text,
                    url=s.url,
                    source=s.document.source,
                    tags=list(s.tags or ()),
                    topic=s.topic,
                    score=score,
                )
                for i, score in ranked
                if (s := by_id.get(i)) is not None
                and (s.visibility == PUBLIC or s.channel_id in channels)
            ]
        return visible[:limit]
