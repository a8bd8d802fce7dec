"""Which snippets each posted answer showed, so a reaction or a button on that message in Slack
maps back to ratings of exactly those snippets."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from indexer.search.ranker import Ranking
from models import Answer, AnswerSnippet, QueryLog


@dataclass(frozen=True)
class PostedAnswer:
    channel_id: str
    message_ts: str
    query_id: int | None
    thread_ts: str | None
    asker_user_id: str | None


@dataclass(frozen=True)
class ShownAnswer:
    answer_id: int
    query_id: int | None
    query: str | None
    asker_user_id: str | None
    thread_ts: str | None
    snippet_ids: tuple[int, ...]
    offset: int
    quoted_ids: tuple[int, ...] = ()
    """The snippets its answer line quoted."""

    @property
    def reaction_rates(self) -> tuple[int, ...]:
        """A reaction on the answer rates what its answer line quoted: that is what the person
        read as the answer. Without an answer line, every snippet it showed."""
        return self.quoted_ids or self.snippet_ids


def record_answer(
    sessions: sessionmaker[Session],
    posted: PostedAnswer,
    ranking: Ranking,
    offset: int = 0,
    quoted: Collection[int] = (),
) -> int:
    """Store the answer once; recording the same Slack message again returns the first id."""
    try:
        with sessions() as session, session.begin():
            answer = Answer(
                query_id=posted.query_id,
                channel_id=posted.channel_id,
                message_ts=posted.message_ts,
                thread_ts=posted.thread_ts,
                asker_user_id=posted.asker_user_id,
            )
            session.add(answer)
            session.flush()
            session.add_all(
                AnswerSnippet(
                    answer_id=answer.id,
                    snippet_id=r.snippet_id,
                    rank=offset + n,
                    score=r.score,
                    quoted=r.snippet_id in quoted,
                )
                for n, r in enumerate(ranking.results, start=1)
            )
            return answer.id
    except IntegrityError:
        shown = find_answer(sessions, posted.channel_id, posted.message_ts)
        if shown is None:
            raise
        return shown.answer_id


def find_answer(
    sessions: sessionmaker[Session], channel_id: str, message_ts: str
) -> ShownAnswer | None:
    """The answer posted as this Slack message, or None for any other message."""
    with sessions() as session:
        row = session.execute(
            select(Answer, QueryLog.query)
            .outerjoin(QueryLog, QueryLog.id == Answer.query_id)
            .where(Answer.channel_id == channel_id, Answer.message_ts == message_ts)
        ).first()
        if row is None:
            return None
        answer, query = row
        shown = session.execute(
            select(AnswerSnippet.snippet_id, AnswerSnippet.rank, AnswerSnippet.quoted)
            .where(AnswerSnippet.answer_id == answer.id)
            .order_by(AnswerSnippet.rank)
        ).all()
        return ShownAnswer(
            answer_id=answer.id,
            query_id=answer.query_id,
            query=query,
            asker_user_id=answer.asker_user_id,
            thread_ts=answer.thread_ts,
            snippet_ids=tuple(s for s, _, _ in shown),
            offset=(shown[0][1] - 1) if shown else 0,
            quoted_ids=tuple(s for s, _, quoted in shown if quoted),
        )
