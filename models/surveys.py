"""Pulse surveys. Who was asked (`SurveyDelivery`) is kept apart from what was answered
(`SurveyResponse`): responses carry no user id, no timestamps and a random id, so rows cannot
be joined back to a person by id, time or insertion order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamped, utcnow
from models.sending import SendState
from models.workspace import WorkspaceOwned


class Survey(WorkspaceOwned, Timestamped, Base):
    __tablename__ = "surveys"
    __table_args__ = (UniqueConstraint("team_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255))
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    anonymity_threshold: Mapped[int] = mapped_column(default=5)
    active: Mapped[bool] = mapped_column(default=True)


class SurveyRound(WorkspaceOwned, Base):
    """One run of a survey. A scheduled round is unique per survey and date, so two workers
    reaching the same date open it once; `planned_at` is set once its audience is known."""

    __tablename__ = "survey_rounds"
    __table_args__ = (
        UniqueConstraint("survey_id", "number"),
        UniqueConstraint("survey_id", "scheduled_for"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    number: Mapped[int]
    scheduled_for: Mapped[str | None] = mapped_column(String(10))
    send_on: Mapped[str] = mapped_column(String(10))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    planned_at: Mapped[datetime | None]
    closes_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class SurveyDelivery(WorkspaceOwned, SendState, Base):
    """Who was asked, and whether they answered; exactly one per person per round."""

    __tablename__ = "survey_deliveries"
    __table_args__ = (UniqueConstraint("round_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_rounds.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    segment: Mapped[str | None] = mapped_column(String(64))
    tz: Mapped[str | None] = mapped_column(String(64))
    responded: Mapped[bool] = mapped_column(default=False)


class SurveyReminder(WorkspaceOwned, SendState, Base):
    """The one reminder a non-responder may get in a round."""

    __tablename__ = "survey_reminders"
    __table_args__ = (UniqueConstraint("round_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_rounds.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))


class SurveyDigestPost(WorkspaceOwned, SendState, Base):
    """A closed round's digest (`part` "summary") and trend chart ("chart") in one channel."""

    __tablename__ = "survey_digest_posts"
    __table_args__ = (UniqueConstraint("round_id", "channel", "part"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_rounds.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(64))
    part: Mapped[str] = mapped_column(String(16))


class SurveyResponse(WorkspaceOwned, Base):
    """Anonymous answers. `respondent_key` is a hash of a random token that exists only in the
    person's DM buttons, so the database alone cannot link it to anyone; it is wiped when the
    round closes, and the rows are rewritten in random order then."""

    __tablename__ = "survey_responses"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_rounds.id", ondelete="CASCADE"))
    respondent_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    segment: Mapped[str | None] = mapped_column(String(64))
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    comment: Mapped[str | None] = mapped_column(Text)


class SurveyOptOut(WorkspaceOwned, Base):
    __tablename__ = "survey_opt_outs"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
