"""The question log and knowledge gaps: every question is recorded with how well it was
answered; the ones without a good answer are grouped with similar earlier ones, so admins see
"12 people asked about VPN on Linux" instead of twelve separate lines."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from indexer.embedding import from_bytes, to_bytes
from indexer.search.ranker import Ranker, Ranking
from models import KnowledgeGap, QueryLog
from models.base import utcnow

SAME_GAP = 0.7
LABEL_CHARS = 200


@dataclass(frozen=True)
class Asked:
    surface: str
    user_id: str | None = None
    team_id: str | None = None
    channel_id: str | None = None


def record_question(
    sessions: sessionmaker[Session], asked: Asked, raw_query: str, ranking: Ranking
) -> int:
    """Log the question; file it under a knowledge gap when Lepton had no good answer."""
    with sessions() as session, session.begin():
        gap_id = None
        if not ranking.confident and ranking.query_vector is not None:
            gap_id = _gap_for(session, raw_query, ranking.query_vector)
        entry = QueryLog(
            user_id=asked.user_id,
            channel_id=asked.channel_id,
            surface=asked.surface,
            query=raw_query,
            result_count=len(ranking.results),
            top_score=ranking.top_score,
            answered=ranking.confident,
            gap_id=gap_id,
        )
        session.add(entry)
        session.flush()
        return entry.id


def _gap_for(session: Session, raw_query: str, vector: np.ndarray) -> int:
    """The open gap whose centroid is closest (cosine >= SAME_GAP), else a new one."""
    best: KnowledgeGap | None = None
    best_similarity = SAME_GAP
    for gap in session.scalars(select(KnowledgeGap).where(KnowledgeGap.resolved_at.is_(None))):
        if gap.centroid is None:
            continue
        centroid = from_bytes(gap.centroid)
        similarity = float(centroid @ vector / (np.linalg.norm(centroid) or 1.0))
        if similarity >= best_similarity:
            best, best_similarity = gap, similarity
    now = utcnow()
    if best is None:
        best = KnowledgeGap(
            label=raw_query[:LABEL_CHARS],
            question_count=0,
            centroid=to_bytes(vector),
            first_seen_at=now,
        )
        session.add(best)
    else:
        count = best.question_count
        merged = (from_bytes(best.centroid or to_bytes(vector)) * count + vector) / (count + 1)
        best.centroid = to_bytes(merged)
    best.question_count += 1
    best.last_seen_at = now
    session.flush()
    return best.id


class Questions:
    """Ask and log in one step, so no surface can answer a question without recording it."""

    def __init__(self, ranker: Ranker, sessions: sessionmaker[Session]) -> None:
        self.ranker = ranker
        self.sessions = sessions

    def ask(
        self,
        raw_query: str,
        asked: Asked,
        channels: frozenset[str] = frozenset(),
        limit: int = 5,
        offset: int = 0,
    ) -> tuple[Ranking, int | None]:
        """The ranking and the logged question's id; later pages ("More results") are not
        logged again."""
        ranking = self.ranker.rank(raw_query, asked.user_id, channels, limit, offset)
        if offset or not ranking.query.search_text:
            return ranking, None
        return ranking, record_question(self.sessions, asked, raw_query, ranking)
