"""What every part of the survey service reads the same way: a survey by key, a round as a
`RoundInfo`, and the error people are shown. Shared here so rounds, answers, reminders and
results agree on them without importing one another."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Survey, SurveyDelivery, SurveyReminder, SurveyRound
from models.sending import FAILED, PENDING, SENDING, SENT


class SurveyError(ValueError):
    """Something a person asked for that cannot be done; the message says why, for them."""


@dataclass(frozen=True)
class RoundInfo:
    id: int
    survey_key: str
    number: int
    send_on: date
    opened_at: datetime
    closes_at: datetime
    closed_at: datetime | None
    asked: int = 0
    responded: int = 0
    reminded: int = 0
    pending: int = 0
    failed: int = 0

    @property
    def open(self) -> bool:
        return self.closed_at is None


def survey_by_key(session: Session, key: str) -> Survey:
    """The stored survey; an unknown key names the known ones, since people type them."""
    survey = session.scalar(select(Survey).where(Survey.key == key))
    if survey is None:
        known = ", ".join(session.scalars(select(Survey.key).order_by(Survey.key))) or "none"
        raise SurveyError(f"There is no survey `{key}`. Surveys: {known}.")
    return survey


def open_rounds(survey_id: int) -> Any:
    """The ids of a survey's open rounds (at most one, by the schema)."""
    return select(SurveyRound.id).where(
        SurveyRound.survey_id == survey_id, SurveyRound.closed_at.is_(None)
    )


def round_info(session: Session, row: SurveyRound, key: str, counted: bool = True) -> RoundInfo:
    """The round; with `counted`, also who was asked, answered, reminded (three queries over
    the round, which a single invitation or answer does not need)."""
    info = RoundInfo(
        id=row.id,
        survey_key=key,
        number=row.number,
        send_on=date.fromisoformat(row.send_on),
        opened_at=row.opened_at,
        closes_at=row.closes_at,
        closed_at=row.closed_at,
    )
    if not counted:
        return info
    counts: dict[str, int] = dict(
        session.execute(
            select(SurveyDelivery.status, func.count())
            .where(SurveyDelivery.round_id == row.id)
            .group_by(SurveyDelivery.status)
        ).all()
    )
    responded = session.scalar(
        select(func.count()).where(
            SurveyDelivery.round_id == row.id, SurveyDelivery.responded.is_(True)
        )
    )
    reminded = session.scalar(
        select(func.count()).where(SurveyReminder.round_id == row.id, SurveyReminder.status == SENT)
    )
    return replace(
        info,
        asked=counts.get(SENT, 0),
        responded=responded or 0,
        reminded=reminded or 0,
        pending=counts.get(PENDING, 0) + counts.get(SENDING, 0),
        failed=counts.get(FAILED, 0),
    )
