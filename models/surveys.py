"""Pulse surveys. Who was asked (`SurveyDelivery`) is kept apart from what was answered
(`SurveyResponse`): responses carry no user id, no timestamps and a random key, so rows cannot
be joined back to a person by id, time or insertion order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Timestamped, utcnow


class Survey(Timestamped, Base):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    anonymity_threshold: Mapped[int] = mapped_column(default=5)
    active: Mapped[bool] = mapped_column(default=True)


class SurveyRound(Base):
    __tablename__ = "survey_rounds"
    __table_args__ = (UniqueConstraint("survey_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    number: Mapped[int]
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closes_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    digest_posted_at: Mapped[datetime | None]


class SurveyDelivery(Base):
    """Exactly one per person per round, enforced by the unique constraint."""

    __tablename__ = "survey_deliveries"
    __table_args__ = (UniqueConstraint("round_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_rounds.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    segment: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    send_after: Mapped[datetime | None]
    dm_channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    sent_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    responded: Mapped[bool] = mapped_column(default=False)


class SurveyResponse(Base):
    """Anonymous answers; `respondent_key` is a keyed hash wiped when the round closes."""

    __tablename__ = "survey_responses"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_rounds.id", ondelete="CASCADE"))
    respondent_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    segment: Mapped[str | None] = mapped_column(String(64))
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    comment: Mapped[str | None] = mapped_column(Text)


class SurveyOptOut(Base):
    __tablename__ = "survey_opt_outs"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
