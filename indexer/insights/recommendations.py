"""What the App Home suggests reading, and the person's own recent searches.

Recommendations come from the feedback snapshot the ranker already uses (no extra model, no
extra fit): first what people with the same likes upvoted, then what is well rated overall, so a
newcomer without ratings still sees something worth reading. Only snippets the person may see
are suggested, never one they already rated or one they wrote or saved themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from indexer.ingest.pipeline import batched
from indexer.learning.feedback import Feedback
from indexer.search.ranker import visible
from models import QueryLog, Rating, Snippet

REASON_SIMILAR = "people with similar ratings liked this"
REASON_WELL_RATED = "well rated by your colleagues"
LOAD_BATCH = 200
SEARCH_PAGE = 100


@dataclass(frozen=True)
class Recommendation:
    snippet_id: int
    title: str
    section: str | None
    url: str | None
    source: str
    reason: str

    @property
    def link(self) -> str:
        """Where a person goes to read more: the URL, else the source path."""
        return self.url or self.source


@dataclass(frozen=True)
class RecentSearch:
    query: str
    asked_at: datetime
    answered: bool


def recommend(
    feedback: Feedback,
    sessions: sessionmaker[Session],
    user_id: str,
    limit: int = 5,
    channels: frozenset[str] = frozenset(),
) -> list[Recommendation]:
    """Up to `limit` snippets, one per document: positive collaborative-filtering scores first,
    then the best rating priors; [] while nobody has rated anything."""
    snapshot = feedback.current()
    if limit <= 0 or (snapshot.model is None and not snapshot.prior):
        return []
    candidates: list[tuple[int, str]] = []
    if snapshot.model is not None:
        scored = snapshot.model.recommend(user_id, snapshot.model.n_items, exclude_rated=True)
        candidates += [(snippet_id, REASON_SIMILAR) for snippet_id, _ in scored]
    well_rated = sorted(
        (item for item in snapshot.prior.items() if item[1] > 0), key=lambda i: (-i[1], i[0])
    )
    candidates += [(snippet_id, REASON_WELL_RATED) for snippet_id, _ in well_rated]
    out: list[Recommendation] = []
    with sessions() as session:
        # Votes cast since the last fit count at once: the table, not the snapshot, says what
        # the person already rated.
        rated = set(session.scalars(select(Rating.snippet_id).where(Rating.user_id == user_id)))
        chosen: set[int] = set()
        documents: set[int] = set()
        for batch in batched([c for c in candidates if c[0] not in rated], LOAD_BATCH):
            snippets = _load(session, [snippet_id for snippet_id, _ in batch])
            for snippet_id, reason in batch:
                snippet = snippets.get(snippet_id)
                if (
                    snippet is None  # deleted since the fit
                    or snippet_id in chosen
                    or snippet.document_id in documents
                    or not visible(snippet, channels)
                    or user_id
                    in (snippet.document.author_user_id, snippet.document.saved_by_user_id)
                ):
                    continue
                chosen.add(snippet_id)
                documents.add(snippet.document_id)
                out.append(_recommendation(snippet, reason))
                if len(out) >= limit:
                    return out
    return out


def _load(session: Session, snippet_ids: list[int]) -> dict[int, Snippet]:
    rows = session.scalars(
        select(Snippet).where(Snippet.id.in_(snippet_ids)).options(selectinload(Snippet.document))
    )
    return {s.id: s for s in rows}


def _recommendation(snippet: Snippet, reason: str) -> Recommendation:
    return Recommendation(
        snippet_id=snippet.id,
        title=snippet.title,
        section=snippet.section,
        url=snippet.url or snippet.document.url,
        source=snippet.document.source,
        reason=reason,
    )


def recent_searches(
    sessions: sessionmaker[Session], user_id: str, limit: int = 5
) -> list[RecentSearch]:
    """The person's latest distinct questions, newest first; asking the same thing again (in
    any case or spacing) moves it up instead of listing it twice."""
    if limit <= 0:
        return []
    out: list[RecentSearch] = []
    seen: set[str] = set()
    with sessions() as session:
        offset = 0
        while True:
            page = session.execute(
                select(QueryLog.query, QueryLog.created_at, QueryLog.answered)
                .where(QueryLog.user_id == user_id)
                .order_by(QueryLog.created_at.desc(), QueryLog.id.desc())
                .offset(offset)
                .limit(SEARCH_PAGE)
            ).all()
            for query, asked_at, answered in page:
                text = " ".join(query.split())
                key = text.casefold()
                if not text or key in seen:
                    continue
                seen.add(key)
                out.append(RecentSearch(query=text, asked_at=asked_at, answered=bool(answered)))
                if len(out) >= limit:
                    return out
            if len(page) < SEARCH_PAGE:
                return out
            offset += SEARCH_PAGE
