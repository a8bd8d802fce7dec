"""Running pulse surveys: the definitions, rounds opening and closing, who is asked and when,
and the scheduler's tick that does whatever is due. Slack-free: the audience comes from a
`Directory` and messages go out through the `send` callables the caller hands to `tick`, so the
Slack layer only delivers and collects.

`Surveys` is the one entry point; what a person answers (`answers`), the reminders
(`reminders`) and the digests (`results`) hang off it, each in its own module, and the
anonymity of stored answers is explained in `people.surveys.answers`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models import (
    Survey,
    SurveyDelivery,
    SurveyDigestPost,
    SurveyNotice,
    SurveyOptOut,
    SurveyReminder,
    SurveyRound,
    SurveySealedAnswers,
)
from models.sending import PENDING
from models.session import forget_deleted, upsert_insert
from models.workspace import stamp
from people.outbox import LEASE, GiveUp, RetryLater, Send, Tally, dispatch
from people.surveys.answers import LOCAL_SECRET, SurveyAnswers
from people.surveys.definitions import SurveyDefinition
from people.surveys.lookups import (
    RoundInfo,
    SurveyError,
    open_rounds,
    round_info,
    survey_by_key,
)
from people.surveys.reminders import SurveyReminders
from people.surveys.results import SurveyResults
from people.surveys.schedule import due_date, send_moment, zone

DIGEST_PARTS = ("summary", "chart")
NOBODY_TO_ASK = "nobody_to_ask"
RETIRE_BATCH = 500

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Member:
    user_id: str
    tz: str | None
    segment: str | None = None


class Directory(Protocol):
    def audience(self, definition: SurveyDefinition) -> list[Member]:
        """The people a survey asks: non-bot, non-deleted members of its channels, or of the
        whole workspace when it names none. GiveUp when a channel cannot be listed for good
        (it does not exist, or is private without Lepton); RetryLater when Slack is busy."""
        ...


@dataclass
class Couriers:
    """How each kind of message reaches Slack; see `people.outbox` for the contract."""

    invitation: Send
    reminder: Send
    digest: Send
    notice: Send
    """Tell the workspace's admins why a round cannot start (`SurveyNotice.reason`)."""
    retire: Callable[[str, str], None]
    """Edit the survey DM (channel, ts) of a closed round to the same neutral text for
    everyone; RetryLater when Slack cannot now, GiveUp when the message is gone."""


@dataclass
class TickReport:
    opened: list[RoundInfo] = field(default_factory=list)
    closed: list[RoundInfo] = field(default_factory=list)
    invitations: Tally = field(default_factory=Tally)
    reminders: Tally = field(default_factory=Tally)
    digests: Tally = field(default_factory=Tally)
    notices: Tally = field(default_factory=Tally)
    retired: int = 0
    """Survey DMs of closed rounds edited to the neutral text."""


class Surveys:
    """Surveys and their rounds; people's answers, reminders and digests are its parts."""

    def __init__(self, sessions: sessionmaker[Session], secret: bytes = LOCAL_SECRET) -> None:
        """`secret` keys the respondent keys (see `people.surveys.answers`); it must be the
        same in every process and must not be stored in the database."""
        self.sessions = sessions
        self.answers = SurveyAnswers(sessions, secret)
        self.reminders = SurveyReminders(sessions)
        self.results = SurveyResults(sessions)

    def sync(self, definitions: Sequence[SurveyDefinition]) -> None:
        """Store the file's surveys; one no longer in the file stops being scheduled, but its
        rounds and results stay."""
        keys = {d.key for d in definitions}
        with self.sessions() as session, session.begin():
            existing = {s.key: s for s in session.scalars(select(Survey))}
            for definition in definitions:
                survey = existing.get(definition.key) or Survey(key=definition.key)
                survey.title = definition.title
                survey.definition = definition.to_json()
                survey.anonymity_threshold = definition.anonymity_threshold
                survey.active = True
                session.add(survey)
            for key, survey in existing.items():
                if key not in keys:
                    survey.active = False

    def definitions(self, active_only: bool = True) -> list[SurveyDefinition]:
        with self.sessions() as session:
            query = select(Survey).order_by(Survey.key)
            if active_only:
                query = query.where(Survey.active.is_(True))
            return [SurveyDefinition.from_json(s.definition) for s in session.scalars(query)]

    def definition(self, key: str) -> SurveyDefinition:
        with self.sessions() as session:
            return SurveyDefinition.from_json(survey_by_key(session, key).definition)

    def start(self, key: str, now: datetime, scheduled_for: date | None = None) -> RoundInfo:
        """Open a round: now (by hand), or for a scheduled date. One open round per survey."""
        with self.sessions() as session, session.begin():
            survey = survey_by_key(session, key)
            if not survey.active:
                raise SurveyError(f"Survey `{key}` is no longer in the survey file.")
            if session.scalar(open_rounds(survey.id)) is not None:
                raise SurveyError(f"Survey `{key}` already has an open round; close it first.")
            number = (
                session.scalar(
                    select(func.max(SurveyRound.number)).where(SurveyRound.survey_id == survey.id)
                )
                or 0
            ) + 1
            day = scheduled_for or now.astimezone(UTC).date()
            definition = SurveyDefinition.from_json(survey.definition)
            row = SurveyRound(
                survey_id=survey.id,
                number=number,
                scheduled_for=scheduled_for.isoformat() if scheduled_for else None,
                send_on=day.isoformat(),
                opened_at=now,
                closes_at=now + definition.window,
            )
            session.add(row)
            try:
                session.flush()
            except IntegrityError:
                raise SurveyError(f"Survey `{key}` was just started by someone else.") from None
            return round_info(session, row, key)

    def plan(self, round_id: int, directory: Directory, now: datetime) -> int:
        """Decide who is asked and when; safe to repeat (one invitation per person)."""
        with self.sessions() as session:
            row = session.get_one(SurveyRound, round_id)
            definition = SurveyDefinition.from_json(
                session.get_one(Survey, row.survey_id).definition
            )
            opted_out = set(session.scalars(select(SurveyOptOut.user_id)))
        day = date.fromisoformat(row.send_on)
        invitations = [
            {
                "round_id": round_id,
                "user_id": member.user_id,
                "segment": member.segment,
                "tz": member.tz,
                "status": PENDING,
                "attempts": 0,
                "responded": False,
                "not_before": send_moment(zone(member.tz), day, definition.send_time, now),
            }
            for member in {m.user_id: m for m in directory.audience(definition)}.values()
            if member.user_id not in opted_out
        ]
        if not invitations:
            raise GiveUp(NOBODY_TO_ASK)
        with self.sessions() as session, session.begin():
            insert = upsert_insert(session, SurveyDelivery).values(stamp(session, invitations))
            session.execute(insert.on_conflict_do_nothing())
            last = session.scalar(
                select(func.max(SurveyDelivery.not_before)).where(
                    SurveyDelivery.round_id == round_id
                )
            )
            session.execute(
                update(SurveyRound)
                .where(SurveyRound.id == round_id, SurveyRound.planned_at.is_(None))
                .values(planned_at=now, closes_at=max(last or now, now) + definition.window)
            )
        return len(invitations)

    def close(self, key: str, now: datetime) -> RoundInfo:
        """Close the open round by hand."""
        with self.sessions() as session:
            survey = survey_by_key(session, key)
            round_id = session.scalar(open_rounds(survey.id))
        if round_id is None:
            raise SurveyError(f"Survey `{key}` has no open round.")
        closed = self._close(round_id, now)
        self._forget_sealed(now)
        return closed

    def _close(self, round_id: int, now: datetime) -> RoundInfo:
        with self.sessions() as session, session.begin():
            row = session.get_one(SurveyRound, round_id, with_for_update=True)
            survey = session.get_one(Survey, row.survey_id)
            if row.closed_at is None:
                row.closed_at = now
                self.answers.unseal(session, round_id, survey.anonymity_threshold)
                definition = SurveyDefinition.from_json(survey.definition)
                posts = [
                    {
                        "round_id": round_id,
                        "channel": channel,
                        "part": part,
                        "status": PENDING,
                        "attempts": 0,
                        "not_before": now,
                    }
                    for channel in definition.digest_channels
                    for part in DIGEST_PARTS
                ]
                if posts:
                    insert = upsert_insert(session, SurveyDigestPost).values(stamp(session, posts))
                    session.execute(insert.on_conflict_do_nothing())
            session.flush()
            return round_info(session, row, survey.key)

    def rounds(self, key: str, limit: int = 5) -> list[RoundInfo]:
        with self.sessions() as session:
            survey = survey_by_key(session, key)
            rows = session.scalars(
                select(SurveyRound)
                .where(SurveyRound.survey_id == survey.id)
                .order_by(SurveyRound.number.desc())
                .limit(limit)
            )
            return [round_info(session, row, key) for row in rows]

    def round(self, round_id: int) -> RoundInfo:
        with self.sessions() as session:
            row = session.get_one(SurveyRound, round_id)
            return round_info(session, row, session.get_one(Survey, row.survey_id).key)

    def next_invitation(self) -> datetime | None:
        """When the earliest invitation still to send is due, if any."""
        with self.sessions() as session:
            return session.scalar(
                select(func.min(SurveyDelivery.not_before)).where(SurveyDelivery.status == PENDING)
            )

    def tick(
        self, now: datetime, directory: Directory, couriers: Couriers, lease: timedelta = LEASE
    ) -> TickReport:
        """Everything due at `now`, in order; every step is safe to repeat or to run in two
        workers at once. An audience Slack cannot list now is tried again next tick."""
        report = TickReport()
        report.opened = self._open_due(now)
        for round_id in self._unplanned():
            try:
                self.plan(round_id, directory, now)
            except GiveUp as trouble:
                self._hold(round_id, trouble.reason, now)
            except RetryLater as busy:
                log.warning("Slack did not list survey round %s's audience (%s)", round_id, busy)
            except Exception:
                log.exception("could not list the audience of survey round %s", round_id)
        sessions = self.sessions
        report.notices = dispatch(sessions, SurveyNotice, now, couriers.notice, lease=lease)
        report.invitations = dispatch(
            sessions, SurveyDelivery, now, couriers.invitation, lease=lease
        )
        self.reminders.queue(now)
        report.reminders = dispatch(sessions, SurveyReminder, now, couriers.reminder, lease=lease)
        report.closed = [self._close(round_id, now) for round_id in self._closing(now)]
        report.digests = dispatch(sessions, SurveyDigestPost, now, couriers.digest, lease=lease)
        report.retired = self._retire_dms(couriers.retire)
        self._forget_sealed(now)
        return report

    def _retire_dms(self, retire: Callable[[str, str], None]) -> int:
        """A closed round's DMs are edited to one neutral text and the pointers to them are
        dropped, so neither the database nor the bot token's `conversations.history` leads from
        a person to what they answered. Slack being busy leaves the rest for the next tick."""
        closed = select(SurveyRound.id).where(SurveyRound.closed_at.is_not(None))
        with self.sessions() as session:
            dms = session.execute(
                select(SurveyDelivery.id, SurveyDelivery.channel_id, SurveyDelivery.message_ts)
                .where(SurveyDelivery.round_id.in_(closed), SurveyDelivery.message_ts.is_not(None))
                .limit(RETIRE_BATCH)
            ).all()
        retired = 0
        for delivery_id, channel, ts in dms:
            try:
                retire(str(channel), str(ts))
            except RetryLater:
                break
            except GiveUp:
                pass
            with self.sessions() as session, session.begin():
                session.execute(
                    update(SurveyDelivery)
                    .where(SurveyDelivery.id == delivery_id)
                    .values(channel_id=None, message_ts=None)
                )
            retired += 1
        with self.sessions() as session, session.begin():
            session.execute(
                update(SurveyReminder)
                .where(SurveyReminder.round_id.in_(closed), SurveyReminder.message_ts.is_not(None))
                .values(channel_id=None, message_ts=None)
            )
        return retired

    def _hold(self, round_id: int, reason: str, now: datetime) -> None:
        """A round that cannot start waits, tried again each run (the channel may be created,
        Lepton invited); its admins are told once, whichever worker sees it first."""
        notice = {
            "round_id": round_id,
            "reason": reason[:64],
            "status": PENDING,
            "attempts": 0,
            "not_before": now,
        }
        with self.sessions() as session, session.begin():
            insert = upsert_insert(session, SurveyNotice).values(stamp(session, [notice]))
            created = session.execute(
                insert.on_conflict_do_nothing().returning(SurveyNotice.id)
            ).first()
        if created:
            log.warning("survey round %s cannot start (%s); its admins are told", round_id, reason)

    def _forget_sealed(self, now: datetime) -> None:
        """Once rounds have closed, rid the database files of their sealed rows; busy now (a
        long reader, a lock) leaves it to the next tick, since the rounds stay marked."""
        with self.sessions() as session:
            waiting = list(
                session.scalars(
                    select(SurveyRound.id).where(
                        SurveyRound.closed_at.is_not(None), SurveyRound.scrubbed_at.is_(None)
                    )
                )
            )
            engine = session.get_bind()
        if not waiting or not forget_deleted(engine, SurveySealedAnswers.__tablename__):
            return
        with self.sessions() as session, session.begin():
            session.execute(
                update(SurveyRound).where(SurveyRound.id.in_(waiting)).values(scrubbed_at=now)
            )

    def _open_due(self, now: datetime) -> list[RoundInfo]:
        opened = []
        for definition in self.definitions():
            with self.sessions() as session:
                survey = survey_by_key(session, definition.key)
                if session.scalar(open_rounds(survey.id)) is not None:
                    continue
                last = session.scalar(
                    select(func.max(SurveyRound.scheduled_for)).where(
                        SurveyRound.survey_id == survey.id
                    )
                )
            day = due_date(definition, date.fromisoformat(last) if last else None, now)
            if day is None:
                continue
            try:
                opened.append(self.start(definition.key, now, scheduled_for=day))
            except SurveyError:
                continue
        return opened

    def _unplanned(self) -> list[int]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(SurveyRound.id).where(
                        SurveyRound.planned_at.is_(None), SurveyRound.closed_at.is_(None)
                    )
                )
            )

    def _closing(self, now: datetime) -> list[int]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(SurveyRound.id).where(
                        SurveyRound.closed_at.is_(None),
                        SurveyRound.planned_at.is_not(None),
                        SurveyRound.closes_at <= now,
                    )
                )
            )
