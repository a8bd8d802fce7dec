"""Pulse surveys. Who was asked (`SurveyDelivery`) is kept apart from what was answered: sealed
while the round is open (`SurveySealedAnswers`), then single answers and comments that point at
nobody and at nothing else (`SurveyAnswer`, `SurveyComment`); `people.surveys.answers` explains.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, LargeBinary, String, Text, UniqueConstraint
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
    tally: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """At close: who answered per channel and what was not kept (`people.surveys.closing`)."""
    scrubbed_at: Mapped[datetime | None]
    """When the database files were rid of the round's sealed rows after it closed."""


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


class SurveyNotice(WorkspaceOwned, SendState, Base):
    """Telling the workspace's admins, once, why a round cannot start (a channel that does not
    exist or that Lepton is not in, nobody to ask)."""

    __tablename__ = "survey_notices"
    __table_args__ = (UniqueConstraint("round_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_rounds.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(64))


class SurveySealedAnswers(WorkspaceOwned, Base):
    """One person's answers while their round is open, sealed (see `people.surveys.sealing`).
    `respondent_key` is an HMAC of a random token that exists only in the person's DM buttons,
    under a secret the database never holds. Deleted when the round closes."""

    __tablename__ = "survey_sealed_answers"

    respondent_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_rounds.id", ondelete="CASCADE"))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class SurveyAnswer(WorkspaceOwned, Base):
    """One answer to one question of a closed round. Nothing ties it to the same person's
    other answers or comment, so a partial set of answers cannot single anyone out; rows are
    written at close in the order of their content."""

    __tablename__ = "survey_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("survey_rounds.id", ondelete="CASCADE"), index=True
    )
    question: Mapped[str] = mapped_column(String(64))
    value: Mapped[int]
    segment: Mapped[str | None] = mapped_column(String(64))


class SurveyComment(WorkspaceOwned, Base):
    """One comment of a closed round, with neither its author's answers nor their channel."""

    __tablename__ = "survey_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("survey_rounds.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)


class SurveyOptOut(WorkspaceOwned, Base):
    __tablename__ = "survey_opt_outs"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
