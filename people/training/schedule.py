"""When to nudge someone about their training, so reminders help instead of getting muted,
and when the weekly completion digest goes out.

The rules:
- spaced, not daily: 7, 3 and 1 days before the due date, on it, then 1, 3 and 7 days late,
  then every 14 days while it stays open;
- only on weekdays, between `NUDGE_START` and `NUDGE_END` in the person's own time zone; a slot
  that falls on a weekend moves to Monday;
- at most one nudge per person per local day (the `training_nudges` unique constraint), about
  their most urgent open assignment;
- a snoozed assignment is not mentioned until the snooze ends, and then gets one nudge;
- nothing about a completed assignment.

The planner writes each person's *next* nudge as a pending row ahead of time; the outbox sends it
when due and the sender checks once more that it is still wanted (completed or snoozed since:
skipped, and the planner plans the next one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from models import Assignment, Nudge, TrainingDigestPost
from models.sending import PENDING, SENDING
from models.session import upsert_insert
from models.workspace import stamp
from people.outbox import LEASE, Send, Tally, dispatch
from people.surveys.schedule import zone
from people.training.assignments import OpenAssignment, Training

NUDGE_START = time(10)
NUDGE_END = time(17)
BEFORE_DUE = frozenset({7, 3, 1, 0})
LATE = frozenset({1, 3, 7})
LATE_EVERY = 14
HORIZON_DAYS = 60
SATURDAY = 5
DIGEST_WEEKDAY = 0
DIGEST_TIME = time(9)
DIGEST_CATCH_UP = timedelta(days=2, hours=15)
DIGEST_PARTS = ("summary", "chart")


@dataclass(frozen=True)
class PlannedNudge:
    assignment_id: int
    moment: datetime
    local_day: date
    kind: str


def is_slot(day: date, due: date) -> bool:
    """A day the spacing rule would nudge on, ignoring weekends."""
    ahead = (due - day).days
    if ahead >= 0:
        return ahead in BEFORE_DUE
    late = -ahead
    return late in LATE or late % LATE_EVERY == 0


def nudge_day(day: date, due: date) -> bool:
    """A weekday that carries a slot: its own, or (on Monday) the weekend's."""
    if day.weekday() >= SATURDAY:
        return False
    covered = [day] + ([day - timedelta(1), day - timedelta(2)] if day.weekday() == 0 else [])
    return any(is_slot(d, due) for d in covered)


def next_nudge(
    assignments: Sequence[OpenAssignment],
    tz: ZoneInfo,
    now: datetime,
    taken: frozenset[date] = frozenset(),
    last_sent: datetime | None = None,
) -> PlannedNudge | None:
    """The earliest moment from `now` at which one of these (one person's) open assignments
    should be nudged, on a local day not already `taken` by a nudge; the most urgent wins."""
    today = now.astimezone(tz).date()
    for offset in range(HORIZON_DAYS):
        day = today + timedelta(offset)
        if day in taken or day.weekday() >= SATURDAY:
            continue
        start = datetime.combine(day, NUDGE_START, tz)
        end = datetime.combine(day, NUDGE_END, tz)
        if now >= end:
            continue
        moment = max(start, now)
        candidates = []
        for a in assignments:
            if a.snoozed_until is not None and a.snoozed_until > moment:
                if a.snoozed_until < end:
                    candidates.append((a.snoozed_until, a, "snooze_over"))
                continue
            if _woke(a, last_sent):
                candidates.append((moment, a, "snooze_over"))
            elif nudge_day(day, a.due_at.astimezone(UTC).date()):
                candidates.append((moment, a, "overdue" if a.due_at < moment else "due"))
        if candidates:
            when, chosen, kind = min(
                candidates, key=lambda c: (c[0], c[1].due_at, c[1].assignment_id)
            )
            return PlannedNudge(chosen.assignment_id, when.astimezone(UTC), day, kind)
    return None


def _woke(assignment: OpenAssignment, last_sent: datetime | None) -> bool:
    """Snoozed earlier, and not nudged since the snooze ended: owed one nudge."""
    if assignment.snoozed_until is None:
        return False
    return last_sent is None or last_sent < assignment.snoozed_until


def plan_nudges(training: Training, zones: Mapping[str, str | None], now: datetime) -> int:
    """Give everyone with open, dated training their next nudge. A nudge still waiting is
    re-planned when things changed (a snooze, a new assignment, one completed), as long as
    no worker has claimed it; the constraint keeps one per person per local day."""
    people: dict[str, list[OpenAssignment]] = {}
    for assignment in training.open_assignments(now):
        people.setdefault(assignment.user_id, []).append(assignment)
    sessions = training.sessions
    with sessions() as session:
        nudges = session.scalars(select(Nudge).where(Nudge.user_id.in_(list(people)))).all()
    busy = {
        n.user_id for n in nudges if n.status == SENDING or (n.status == PENDING and n.attempts)
    }
    waiting = {n.user_id: n for n in nudges if n.status == PENDING and not n.attempts}
    days: dict[str, set[date]] = {}
    last_sent: dict[str, datetime] = {}
    for nudge in nudges:
        if nudge is not waiting.get(nudge.user_id):
            days.setdefault(nudge.user_id, set()).add(date.fromisoformat(nudge.local_day))
        if nudge.sent_at is not None:
            last_sent[nudge.user_id] = max(
                nudge.sent_at, last_sent.get(nudge.user_id, nudge.sent_at)
            )
    planned = 0
    for user_id, assignments in people.items():
        if user_id in busy:
            continue
        plan = next_nudge(
            assignments,
            zone(zones.get(user_id)),
            now,
            frozenset(days.get(user_id, ())),
            last_sent.get(user_id),
        )
        old = waiting.get(user_id)
        if old is not None and plan is not None and _same(old, plan):
            continue
        with sessions() as session, session.begin():
            if old is not None:
                gone = session.execute(
                    delete(Nudge).where(
                        Nudge.id == old.id, Nudge.status == PENDING, Nudge.attempts == 0
                    )
                )
                if not gone.rowcount:
                    continue
            if plan is None:
                continue
            insert = upsert_insert(session, Nudge).values(
                stamp(
                    session,
                    [
                        {
                            "user_id": user_id,
                            "assignment_id": plan.assignment_id,
                            "local_day": plan.local_day.isoformat(),
                            "kind": plan.kind,
                            "status": PENDING,
                            "attempts": 0,
                            "not_before": plan.moment,
                        }
                    ],
                )
            )
            created = session.execute(insert.on_conflict_do_nothing().returning(Nudge.id))
            planned += len(created.all())
    return planned


def _same(nudge: Nudge, plan: PlannedNudge) -> bool:
    return (nudge.assignment_id, nudge.local_day, nudge.kind, nudge.not_before) == (
        plan.assignment_id,
        plan.local_day.isoformat(),
        plan.kind,
        plan.moment,
    )


def still_wanted(training: Training, nudge: Nudge, now: datetime) -> OpenAssignment | None:
    """Checked just before sending: the assignment is still open and not snoozed past now."""
    found = training.open_assignments(now, nudge.assignment_id)
    return next((a for a in found if not a.snoozed), None)


def digest_week(now: datetime) -> str | None:
    """The ISO week whose digest is due at `now`: from Monday 09:00 UTC, caught up until the
    end of Wednesday if the scheduler was down; a digest of a week nearly over is skipped."""
    moment = now.astimezone(UTC)
    monday = moment.date() - timedelta(days=moment.weekday())
    opens = datetime.combine(monday + timedelta(DIGEST_WEEKDAY), DIGEST_TIME, UTC)
    if not opens <= moment < opens + DIGEST_CATCH_UP:
        return None
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def queue_digests(sessions: sessionmaker[Session], channels: Sequence[str], now: datetime) -> None:
    """This week's digest rows, once per channel and part; nothing before anyone has training."""
    week = digest_week(now)
    if week is None or not channels:
        return
    with sessions() as session, session.begin():
        if session.scalar(select(Assignment.id).limit(1)) is None:
            return
        rows = [
            {
                "week": week,
                "channel": channel,
                "part": part,
                "status": PENDING,
                "attempts": 0,
                "not_before": now,
            }
            for channel in channels
            for part in DIGEST_PARTS
        ]
        session.execute(
            upsert_insert(session, TrainingDigestPost)
            .values(stamp(session, rows))
            .on_conflict_do_nothing()
        )


@dataclass(frozen=True)
class TrainingReport:
    planned: int
    nudges: Tally
    digests: Tally


def training_tick(
    training: Training,
    zones: Mapping[str, str | None],
    nudge: Send,
    digest: Send,
    digest_channels: Sequence[str],
    now: datetime,
    lease: timedelta = LEASE,
) -> TrainingReport:
    """Everything training-related due at `now`; idempotent, safe in two workers at once."""
    sessions = training.sessions
    planned = plan_nudges(training, zones, now)
    nudges = dispatch(sessions, Nudge, now, nudge, lease=lease)
    queue_digests(sessions, digest_channels, now)
    digests = dispatch(sessions, TrainingDigestPost, now, digest, lease=lease)
    return TrainingReport(planned, nudges, digests)


def next_nudge_due(sessions: sessionmaker[Session]) -> datetime | None:
    with sessions() as session:
        return session.scalar(
            select(Nudge.not_before).where(Nudge.status == PENDING).order_by(Nudge.not_before)
        )
