"""What people asked, what Lepton answered, and how they rated it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamped, utcnow
from models.workspace import WorkspaceOwned


class KnowledgeGap(WorkspaceOwned, Base):
    """A group of similar questions that had no good answer, for admins to fill."""

    __tablename__ = "knowledge_gaps"

    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(String(512))
    question_count: Mapped[int] = mapped_column(default=0)
    centroid: Mapped[bytes | None] = mapped_column(LargeBinary)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]


class QueryLog(WorkspaceOwned, Base):
    """One question asked on any surface; `user_id` is cleared by forget-me."""

    __tablename__ = "query_log"
    __table_args__ = (Index("ix_query_log_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str | None] = mapped_column(String(32))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    surface: Mapped[str] = mapped_column(String(32))
    query: Mapped[str] = mapped_column(Text)
    result_count: Mapped[int] = mapped_column(default=0)
    top_score: Mapped[float | None]
    answered: Mapped[bool] = mapped_column(default=False)
    gap_id: Mapped[int | None] = mapped_column(ForeignKey("knowledge_gaps.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Answer(WorkspaceOwned, Base):
    """A Lepton message in Slack; reactions on (channel, ts) map back to what it showed."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("channel_id", "message_ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    query_id: Mapped[int | None] = mapped_column(ForeignKey("query_log.id", ondelete="SET NULL"))
    channel_id: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    asker_user_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnswerSnippet(WorkspaceOwned, Base):
    __tablename__ = "answer_snippets"

    answer_id: Mapped[int] = mapped_column(
        ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True
    )
    snippet_id: Mapped[int] = mapped_column(
        ForeignKey("snippets.id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int]
    score: Mapped[float]
    quoted: Mapped[bool] = mapped_column(default=False)
    """The answer line quoted it: a reaction on the answer rates the quoted snippets."""


class Rating(WorkspaceOwned, Timestamped, Base):
    """A person's current +1/-1 on a snippet: latest wins, deleting the row removes it."""

    __tablename__ = "ratings"
    __table_args__ = (
        UniqueConstraint("user_id", "snippet_id"),
        CheckConstraint("value IN (-1, 1)", name="value_is_vote"),
        Index("ix_ratings_snippet", "snippet_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    snippet_id: Mapped[int] = mapped_column(ForeignKey("snippets.id", ondelete="CASCADE"))
    value: Mapped[int]
    origin: Mapped[str] = mapped_column(String(64))
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("answers.id", ondelete="SET NULL"))
