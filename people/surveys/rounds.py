"""Running pulse surveys: rounds, who is asked and when, anonymous answers, reminders, closing
and digests. Slack-free: the audience comes from a `Directory` and messages go out through the
`send` callables the caller hands to `tick`, so the Slack layer only delivers and collects.

Anonymity, in storage: `SurveyDelivery` says who was asked and whether they answered;
`SurveyResponse` holds what was answered, with a random id, no user id and no timestamp. The
only link while a round is open is `respondent_key`, the hash of a random token that lives only
in the buttons of the person's own DM. Closing a round wipes the keys and rewrites the responses
in random order, so neither the key nor the physical row order can be matched to the order in
which people were asked or answered. It also merges every segment with fewer answers than the
anonymity threshold into an unnamed group of at least that size: otherwise the only answer
tagged with a small segment would belong to the one person of that segment who answered.
"""

from __future__ import annotations

import hashlib
import logging
import random
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models import (
    Survey,
    SurveyDelivery,
    SurveyDigestPost,
    SurveyOptOut,
    SurveyReminder,
    SurveyResponse,
    SurveyRound,
)
from models.sending import FAILED, PENDING, SENDING, SENT, SKIPPED
from models.session import upsert_insert
from people.outbox import LEASE, Send, Tally, dispatch
from people.surveys.definitions import SurveyDefinition
from people.surveys.digest import Digest, Response, RoundResults, build_digest
from people.surveys.schedule import due_date, reminder_moment, send_moment, zone

COMMENT_LIMIT = 2000
DIGEST_PARTS = ("summary", "chart")
TREND_ROUNDS = 8
NOT_YOURS = "This survey was not sent to you, so nothing was recorded."

log = logging.getLogger(__name__)


class SurveyError(ValueError):
    """Something a person asked for that cannot be done; the message says why, for them."""


@dataclass(frozen=True)
class Member:
    user_id: str
    tz: str | None
    segment: str | None = None


class Directory(Protocol):
    def audience(self, definition: SurveyDefinition) -> list[Member]:
        """The people a survey asks: non-bot, non-deleted members of its channels, or of the
        whole workspace when it names none."""
        ...


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


@dataclass(frozen=True)
class Recorded:
    """What a person has answered so far in a round, to show back to them in their DM."""

    definition: SurveyDefinition
    round: RoundInfo
    answers: dict[str, int]
    comment: str | None


@dataclass(frozen=True)
class Invitation:
    """A survey DM to send: the token goes only into the person's buttons."""

    definition: SurveyDefinition
    round: RoundInfo
    token: str


@dataclass
class Couriers:
    """How each kind of message reaches Slack; see `people.outbox` for the contract."""

    invitation: Send
    reminder: Send
    digest: Send


@dataclass
class TickReport:
    opened: list[RoundInfo] = field(default_factory=list)
    closed: list[RoundInfo] = field(default_factory=list)
    invitations: Tally = field(default_factory=Tally)
    reminders: Tally = field(default_factory=Tally)
    digests: Tally = field(default_factory=Tally)


def respondent_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(24)


class Surveys:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    # Definitions

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
            return SurveyDefinition.from_json(_survey(session, key).definition)

    # Rounds

    def start(self, key: str, now: datetime, scheduled_for: date | None = None) -> RoundInfo:
        """Open a round: now (by hand), or for a scheduled date. One open round per survey."""
        with self.sessions() as session, session.begin():
            survey = _survey(session, key)
            if not survey.active:
                raise SurveyError(f"Survey `{key}` is no longer in the survey file.")
            if session.scalar(_open_rounds(survey.id)) is not None:
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
            return _info(session, row, key)

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
        with self.sessions() as session, session.begin():
            if invitations:
                insert = upsert_insert(session, SurveyDelivery).values(invitations)
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
            survey = _survey(session, key)
            round_id = session.scalar(_open_rounds(survey.id))
        if round_id is None:
            raise SurveyError(f"Survey `{key}` has no open round.")
        return self._close(round_id, now)

    def _close(self, round_id: int, now: datetime) -> RoundInfo:
        with self.sessions() as session, session.begin():
            row = session.get_one(SurveyRound, round_id, with_for_update=True)
            survey = session.get_one(Survey, row.survey_id)
            if row.closed_at is None:
                row.closed_at = now
                _shuffle_responses(session, round_id, survey.anonymity_threshold)
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
                    insert = upsert_insert(session, SurveyDigestPost).values(posts)
                    session.execute(insert.on_conflict_do_nothing())
            session.flush()
            return _info(session, row, survey.key)

    def rounds(self, key: str, limit: int = 5) -> list[RoundInfo]:
        with self.sessions() as session:
            survey = _survey(session, key)
            rows = session.scalars(
                select(SurveyRound)
                .where(SurveyRound.survey_id == survey.id)
                .order_by(SurveyRound.number.desc())
                .limit(limit)
            )
            return [_info(session, row, key) for row in rows]

    def round(self, round_id: int) -> RoundInfo:
        with self.sessions() as session:
            row = session.get_one(SurveyRound, round_id)
            return _info(session, row, session.get_one(Survey, row.survey_id).key)

    # Answers

    def record(
        self,
        round_id: int,
        user_id: str,
        token: str,
        now: datetime,
        *,
        message: tuple[str, str],
        answer: tuple[str, int] | None = None,
        comment: str | None = None,
    ) -> Recorded:
        """Record (or change) one answer or the comment. `message` is the (channel, ts) the
        button was pressed in: it must be the clicker's own invitation, and the round open."""
        for attempt in (1, 2):
            try:
                return self._record(round_id, user_id, token, now, answer, message, comment)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _record(
        self,
        round_id: int,
        user_id: str,
        token: str,
        now: datetime,
        answer: tuple[str, int] | None,
        message: tuple[str, str],
        comment: str | None,
    ) -> Recorded:
        """One try; a double-click racing to create the same response retries once."""
        with self.sessions() as session, session.begin():
            row, delivery, definition = _open_invitation(session, round_id, user_id, message, now)
            key = respondent_key(token)
            response = session.scalar(
                select(SurveyResponse).where(SurveyResponse.respondent_key == key)
            )
            if response is not None and response.round_id != round_id:
                raise SurveyError(NOT_YOURS)
            if response is None:
                response = SurveyResponse(
                    id=secrets.token_hex(16),
                    round_id=round_id,
                    respondent_key=key,
                    segment=delivery.segment,
                    answers={},
                )
            if answer is not None:
                question = definition.question(answer[0])
                if question is None or answer[1] not in dict(question.choices()):
                    raise SurveyError("That answer is not one of the choices; nothing changed.")
                response.answers = {**response.answers, answer[0]: answer[1]}
            if comment is not None:
                response.comment = comment.strip()[:COMMENT_LIMIT] or None
            if response.answers or response.comment:
                session.add(response)
                delivery.responded = True
            else:
                if response in session:
                    session.delete(response)
                delivery.responded = False
            session.flush()
            return Recorded(
                definition,
                _info(session, row, definition.key, counted=False),
                dict(response.answers),
                response.comment,
            )

    def recorded(
        self, round_id: int, user_id: str, token: str, now: datetime, message: tuple[str, str]
    ) -> Recorded:
        """What this person answered so far, under the same checks as recording."""
        with self.sessions() as session:
            row, _, definition = _open_invitation(session, round_id, user_id, message, now)
            response = session.scalar(
                select(SurveyResponse).where(SurveyResponse.respondent_key == respondent_key(token))
            )
            return Recorded(
                definition,
                _info(session, row, definition.key, counted=False),
                dict(response.answers) if response else {},
                response.comment if response else None,
            )

    def invitation(self, delivery: SurveyDelivery) -> Invitation:
        with self.sessions() as session:
            row = session.get_one(SurveyRound, delivery.round_id)
            survey = session.get_one(Survey, row.survey_id)
            return Invitation(
                SurveyDefinition.from_json(survey.definition),
                _info(session, row, survey.key, counted=False),
                new_token(),
            )

    def next_invitation(self) -> datetime | None:
        """When the earliest invitation still to send is due, if any."""
        with self.sessions() as session:
            return session.scalar(
                select(func.min(SurveyDelivery.not_before)).where(SurveyDelivery.status == PENDING)
            )

    def waiting_for(self, user_id: str, now: datetime) -> list[tuple[RoundInfo, SurveyDelivery]]:
        """Open rounds that asked this person and that they have not answered yet."""
        with self.sessions() as session:
            rows = session.execute(
                select(SurveyRound, SurveyDelivery, Survey.key)
                .join(SurveyDelivery, SurveyDelivery.round_id == SurveyRound.id)
                .join(Survey, Survey.id == SurveyRound.survey_id)
                .where(
                    SurveyDelivery.user_id == user_id,
                    SurveyDelivery.status == SENT,
                    SurveyDelivery.responded.is_(False),
                    SurveyRound.closed_at.is_(None),
                    SurveyRound.closes_at > now,
                )
            ).all()
            return [(_info(session, r, key), d) for r, d, key in rows]

    # Opting out

    def opt_out(self, user_id: str) -> bool:
        """True when this changed anything. Invitations not yet sent are skipped at send time."""
        with self.sessions() as session, session.begin():
            if session.get(SurveyOptOut, user_id) is not None:
                return False
            session.add(SurveyOptOut(user_id=user_id))
            return True

    def opt_in(self, user_id: str) -> bool:
        with self.sessions() as session, session.begin():
            gone = session.execute(delete(SurveyOptOut).where(SurveyOptOut.user_id == user_id))
            return bool(gone.rowcount)

    def opted_out(self, user_id: str) -> bool:
        with self.sessions() as session:
            return session.get(SurveyOptOut, user_id) is not None

    # Digests

    def digest(
        self, key: str, number: int | None = None, rng: random.Random | None = None
    ) -> tuple[SurveyDefinition, Digest]:
        """The digest of a round (the latest by default); an open round's results are withheld."""
        with self.sessions() as session:
            survey = _survey(session, key)
            rows = list(
                session.scalars(
                    select(SurveyRound)
                    .where(SurveyRound.survey_id == survey.id)
                    .order_by(SurveyRound.number)
                )
            )
            if not rows:
                raise SurveyError(f"Survey `{key}` has not run yet.")
            chosen = next((r for r in rows if r.number == number), None) if number else rows[-1]
            if chosen is None:
                raise SurveyError(f"Survey `{key}` has no round {number}.")
            used = [r for r in rows if r.number <= chosen.number][-TREND_ROUNDS:]
            results = {r.id: _results(session, r) for r in used}
            definition = SurveyDefinition.from_json(survey.definition)
        current = results.pop(chosen.id)
        return definition, build_digest(
            definition, current, list(results.values()), rng, TREND_ROUNDS
        )

    def digest_of_round(self, round_id: int) -> tuple[SurveyDefinition, Digest]:
        info = self.round(round_id)
        return self.digest(info.survey_key, info.number)

    # The scheduler's work

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
            except Exception:
                log.exception("could not list the audience of survey round %s", round_id)
        sessions = self.sessions
        report.invitations = dispatch(
            sessions, SurveyDelivery, now, couriers.invitation, lease=lease
        )
        self._queue_reminders(now)
        report.reminders = dispatch(sessions, SurveyReminder, now, couriers.reminder, lease=lease)
        report.closed = [self._close(round_id, now) for round_id in self._closing(now)]
        report.digests = dispatch(sessions, SurveyDigestPost, now, couriers.digest, lease=lease)
        return report

    def _open_due(self, now: datetime) -> list[RoundInfo]:
        opened = []
        for definition in self.definitions():
            with self.sessions() as session:
                survey = _survey(session, definition.key)
                if session.scalar(_open_rounds(survey.id)) is not None:
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

    def _queue_reminders(self, now: datetime) -> None:
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
                planned = select(SurveyReminder.user_id).where(SurveyReminder.round_id == row.id)
                waiting = session.execute(
                    select(SurveyDelivery.user_id, SurveyDelivery.tz).where(
                        SurveyDelivery.round_id == row.id,
                        SurveyDelivery.status == SENT,
                        SurveyDelivery.message_ts.is_not(None),
                        SurveyDelivery.responded.is_(False),
                        SurveyDelivery.sent_at < row.closes_at - definition.remind_before,
                        SurveyDelivery.user_id.not_in(planned),
                    )
                ).all()
                reminders = []
                for user_id, tz in waiting:
                    moment = reminder_moment(
                        zone(tz), row.closes_at, definition.remind_before, definition.send_time
                    )
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
                if reminders:
                    insert = upsert_insert(session, SurveyReminder).values(reminders)
                    session.execute(insert.on_conflict_do_nothing())

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
                and session.get(SurveyOptOut, reminder.user_id) is None
            )

    def delivery_of(self, reminder: SurveyReminder) -> SurveyDelivery | None:
        with self.sessions() as session:
            return session.scalar(
                select(SurveyDelivery).where(
                    SurveyDelivery.round_id == reminder.round_id,
                    SurveyDelivery.user_id == reminder.user_id,
                )
            )


def _survey(session: Session, key: str) -> Survey:
    survey = session.scalar(select(Survey).where(Survey.key == key))
    if survey is None:
        known = ", ".join(session.scalars(select(Survey.key).order_by(Survey.key))) or "none"
        raise SurveyError(f"There is no survey `{key}`. Surveys: {known}.")
    return survey


def _open_invitation(
    session: Session, round_id: int, user_id: str, message: tuple[str, str], now: datetime
) -> tuple[SurveyRound, SurveyDelivery, SurveyDefinition]:
    """The round and this person's invitation, if `message` is that invitation and the round
    is still open; otherwise a SurveyError saying why."""
    row = session.get(SurveyRound, round_id)
    delivery = session.scalar(
        select(SurveyDelivery).where(
            SurveyDelivery.round_id == round_id, SurveyDelivery.user_id == user_id
        )
    )
    if (
        row is None
        or delivery is None
        or delivery.status != SENT
        or message != (delivery.channel_id, delivery.message_ts)
    ):
        raise SurveyError(NOT_YOURS)
    definition = SurveyDefinition.from_json(session.get_one(Survey, row.survey_id).definition)
    if row.closed_at is not None or row.closes_at <= now:
        closed = row.closed_at or row.closes_at
        raise SurveyError(
            f"*{definition.title}* closed on {closed:%a %d %b} and takes no more answers, "
            "so this was not recorded."
        )
    return row, delivery, definition


def _open_rounds(survey_id: int) -> Any:
    return select(SurveyRound.id).where(
        SurveyRound.survey_id == survey_id, SurveyRound.closed_at.is_(None)
    )


def _info(session: Session, row: SurveyRound, key: str, counted: bool = True) -> RoundInfo:
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


def _results(session: Session, row: SurveyRound) -> RoundResults:
    responses = session.scalars(
        select(SurveyResponse).where(SurveyResponse.round_id == row.id)
    ).all()
    asked = session.scalar(
        select(func.count()).where(SurveyDelivery.round_id == row.id, SurveyDelivery.status == SENT)
    )
    return RoundResults(
        number=row.number,
        opened_on=date.fromisoformat(row.send_on),
        asked=asked or 0,
        responses=tuple(
            Response(answers=dict(r.answers), comment=r.comment, segment=r.segment)
            for r in responses
        ),
        closed=row.closed_at is not None,
    )


def _shuffle_responses(session: Session, round_id: int, threshold: int) -> None:
    """Drop the keys, hide small segments, and rewrite the rows in random order under new
    random ids."""
    rows = [
        (r.segment, dict(r.answers), r.comment)
        for r in session.scalars(select(SurveyResponse).where(SurveyResponse.round_id == round_id))
    ]
    kept = _segments_to_keep([s for s, _, _ in rows], threshold)
    session.execute(delete(SurveyResponse).where(SurveyResponse.round_id == round_id))
    random.SystemRandom().shuffle(rows)
    session.add_all(
        SurveyResponse(
            id=secrets.token_hex(16),
            round_id=round_id,
            segment=s if s in kept else None,
            answers=a,
            comment=c,
        )
        for s, a, c in rows
    )


def _segments_to_keep(segments: Sequence[str | None], threshold: int) -> set[str]:
    """Segments with at least `threshold` answers, minus the smallest of them while the unnamed
    rest (small segments and answers without one) is smaller than `threshold` but not empty."""
    sizes = Counter(s for s in segments if s is not None)
    kept = {s: n for s, n in sizes.items() if n >= threshold}
    unnamed = len(segments) - sum(kept.values())
    while kept and 0 < unnamed < threshold:
        smallest = min(kept, key=lambda s: (kept[s], s))
        unnamed += kept.pop(smallest)
    return set(kept)
