"""Reminders for people who have not answered a survey round: queued at a working-hours moment
in each person's zone, and checked again just before one goes out, since the person may have
answered or opted out in between."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Survey, SurveyDelivery, SurveyOptOut, SurveyReminder, SurveyRound
from models.sending import PENDING, SENT, SKIPPED
from models.session import upsert_insert
from models.workspace import stamp
from people.surveys.definitions import SurveyDefinition
from people.surveys.schedule import reminder_moment, zone


class SurveyReminders:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def queue(self, now: datetime) -> None:
        """Plan one reminder for each person invited before the reminder time who has not
        answered, at a working-hours moment in their zone; sending re-checks that."""
        with self.sessions() as session, session.begin():
            for row in session.scalars(
                select(SurveyRound).where(
                    SurveyRound.closed_at.is_(None),
                    SurveyRound.planned_at.is_not(None),
                    SurveyRound.closes_at > now,
                )
            ):
                definition = SurveyDefinition.from_json(
                    session.get_one(Survey, row.survey_id).definition
                )
                if definition.remind_before is None:
                    continue
                reminders = _reminders(session, row, definition.remind_before, definition.send_time)
                if reminders:
                    insert = upsert_insert(session, SurveyReminder).values(
                        stamp(session, reminders)
                    )
                    session.execute(insert.on_conflict_do_nothing())

    def should_remind(self, reminder: SurveyReminder) -> bool:
        """Checked again just before sending: the person may have answered or opted out since."""
        with self.sessions() as session:
            delivery = session.scalar(
                select(SurveyDelivery).where(
                    SurveyDelivery.round_id == reminder.round_id,
                    SurveyDelivery.user_id == reminder.user_id,
                )
            )
            row = session.get_one(SurveyRound, reminder.round_id)
            return (
                delivery is not None
                and not delivery.responded
                and row.closed_at is None
                and session.scalar(
                    select(SurveyOptOut.user_id).where(SurveyOptOut.user_id == reminder.user_id)
                )
                is None
            )

    def delivery_of(self, reminder: SurveyReminder) -> SurveyDelivery | None:
        """The invitation a reminder points back to, so it can link to that DM."""
        with self.sessions() as session:
            return session.scalar(
                select(SurveyDelivery).where(
                    SurveyDelivery.round_id == reminder.round_id,
                    SurveyDelivery.user_id == reminder.user_id,
                )
            )


def _reminders(
    session: Session, row: SurveyRound, remind_before: timedelta, send_time: time
) -> list[dict[str, Any]]:
    """Rows for the people of one round still waiting and not yet planned a reminder; one with
    no working hours left before closing is stored as skipped, so it is not planned again."""
    planned = select(SurveyReminder.user_id).where(SurveyReminder.round_id == row.id)
    waiting = session.execute(
        select(SurveyDelivery.user_id, SurveyDelivery.tz).where(
            SurveyDelivery.round_id == row.id,
            SurveyDelivery.status == SENT,
            SurveyDelivery.message_ts.is_not(None),
            SurveyDelivery.responded.is_(False),
            SurveyDelivery.sent_at < row.closes_at - remind_before,
            SurveyDelivery.user_id.not_in(planned),
        )
    ).all()
    reminders = []
    for user_id, tz in waiting:
        moment = reminder_moment(zone(tz), row.closes_at, remind_before, send_time)
        reminders.append(
            {
                "round_id": row.id,
                "user_id": user_id,
                "status": PENDING if moment else SKIPPED,
                "error": None if moment else "no working hours before closing",
                "attempts": 0,
                "not_before": moment or row.closes_at,
            }
        )
    return reminders
