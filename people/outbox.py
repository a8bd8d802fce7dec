"""Sending the messages Lepton starts itself, each exactly once.

A due row (see `models.sending.SendState`) is claimed with a conditional UPDATE, so of two
workers only one wins it; then the caller's `send` posts it and the outcome is written back.
If a process dies after claiming, the claim lapses after `LEASE` and the row is tried again
with `retry=True`, telling `send` to look for the earlier message before posting a second one.
A claim is dated when it is made (the run's `now` plus the time the run has taken so far, so a
run over simulated time stays on its own clock) and renewed while its message is being sent:
a worker that joins late in another's long run, or a post slower than the lease, never makes
a live claim look abandoned.
Slack errors worth retrying back off exponentially; a 429 waits as long as Slack's `Retry-After`
says, and the whole pass pauses that long before the next message, as Slack asks. Slack
being down (5xx, timeouts) is retried for about a day (`MAX_OUTAGE_ATTEMPTS`), so an outage
delays messages without losing them; any other error gives up after `MAX_ATTEMPTS`. A row
given up is marked failed with its reason and logged, never silently dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from models.sending import FAILED, PENDING, SENDING, SENT, SKIPPED, SendState

LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8
MAX_OUTAGE_ATTEMPTS = 31
"""Seven attempts take the backoff to its cap (about an hour in all), then one an hour: a day."""
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)
MAX_PAUSE = timedelta(seconds=30)
BATCH = 500

log = logging.getLogger(__name__)
Row = TypeVar("Row", bound=SendState)


@dataclass(frozen=True)
class Delivered:
    channel_id: str
    ts: str


class RetryLater(Exception):
    """Slack could not take the message now (429, 5xx, timeout); `after` is its Retry-After.
    `outage`: Slack itself failed (5xx, timeout, no connection), so the message may have been
    posted anyway, and Slack will recover on its own."""

    def __init__(self, reason: str, after: float = 0.0, *, outage: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.after, self.outage = reason, after, outage


class GiveUp(Exception):
    """Sending can never work (the person left, the channel is gone): recorded, not retried."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Skip(Exception):
    """Nothing to send any more (the person opted out, or already answered)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Tally:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0

    def __iadd__(self, other: Tally) -> Tally:
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.skipped += other.skipped
        return self


Send = Callable[[Any, bool], Delivered]


def backoff(attempts: int, after: float) -> timedelta:
    """Slack's Retry-After when it gave one (a rate limit is not a failure), else exponential."""
    if after > 0:
        return timedelta(seconds=after)
    return min(FIRST_BACKOFF * 2 ** max(attempts - 1, 0), MAX_BACKOFF)


def dispatch(
    sessions: sessionmaker[Session],
    model: type[Row],
    now: datetime,
    send: Send,
    where: Sequence[ColumnElement[bool]] = (),
    limit: int = BATCH,
    lease: timedelta = LEASE,
) -> Tally:
    """Send every due row of `model` (matching `where`) once; return what happened. A claim
    not renewed for `lease` is taken to belong to a dead process."""
    clock = _RunClock(now)
    with sessions() as session:
        ids = session.scalars(
            select(model.id)
            .where(_due(model, now, clock(), lease), *where)
            .order_by(model.not_before, model.id)  # type: ignore[attr-defined]
            .limit(limit)
        ).all()
    tally = Tally()
    for row_id in ids:
        claimed_at = clock()
        row = _claim(sessions, model, row_id, _due(model, now, claimed_at, lease), claimed_at)
        if row is None:
            continue
        with _Renewal(sessions, model, row_id, claimed_at, clock, lease) as renewal:
            outcome, values, pause = _attempt(model, row, now, send)
        _record(sessions, model, row_id, renewal.claimed_at, values)
        tally += outcome
        if pause:
            time.sleep(min(pause, MAX_PAUSE.total_seconds()))
    return tally


class _RunClock:
    """The run's `now` moved on by the real time the run has taken."""

    def __init__(self, now: datetime) -> None:
        self.now, self.started = now, time.monotonic()

    def __call__(self) -> datetime:
        return self.now + timedelta(seconds=time.monotonic() - self.started)


class _Renewal:
    """Keeps one claim fresh while its message is sent: every third of the lease its date
    moves on, as long as the claim is still this worker's."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        model: type[SendState],
        row_id: int,
        claimed_at: datetime,
        clock: _RunClock,
        lease: timedelta,
    ) -> None:
        self.sessions, self.model, self.row_id = sessions, model, row_id
        self.claimed_at, self.clock = claimed_at, clock
        self.every = max(lease.total_seconds() / 3, 0.05)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._renew, daemon=True, name="lepton-lease")

    def __enter__(self) -> _Renewal:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _renew(self) -> None:
        model = self.model
        while not self._done.wait(self.every):
            renewed = self.clock()
            with self.sessions() as session, session.begin():
                kept = session.execute(
                    update(model)
                    .where(
                        model.id == self.row_id,  # type: ignore[attr-defined]
                        model.status == SENDING,
                        model.claimed_at == self.claimed_at,
                    )
                    .values(claimed_at=renewed)
                )
            if kept.rowcount != 1:
                return
            self.claimed_at = renewed


def _due(
    model: type[SendState], now: datetime, moment: datetime, lease: timedelta
) -> ColumnElement[bool]:
    """Due by the run's `now`; abandoned when not renewed for `lease` before `moment`."""
    return or_(
        and_(model.status == PENDING, model.not_before <= now),
        and_(model.status == SENDING, model.claimed_at < moment - lease),
    )


def _claim(
    sessions: sessionmaker[Session],
    model: type[Row],
    row_id: int,
    due: ColumnElement[bool],
    claimed_at: datetime,
) -> Row | None:
    with sessions() as session, session.begin():
        won = session.execute(
            update(model)
            .where(model.id == row_id, due)  # type: ignore[attr-defined]
            .values(status=SENDING, claimed_at=claimed_at, attempts=model.attempts + 1)
        )
        if won.rowcount != 1:
            return None
        return session.get(model, row_id)


def _attempt(
    model: type[Row], row: Row, now: datetime, send: Send
) -> tuple[Tally, dict[str, Any], float]:
    """The outcome, the row's new state, and how long Slack asked everyone to wait
    (Retry-After) before the next message."""
    values: dict[str, Any]
    pause = 0.0
    try:
        delivered = send(row, row.attempts > 1)
    except Skip as skip:
        values, tally = {"status": SKIPPED, "error": skip.reason[:64]}, Tally(skipped=1)
    except GiveUp as failure:
        _gave_up(model, row, failure.reason)
        values, tally = {"status": FAILED, "error": failure.reason[:64]}, Tally(failed=1)
    except Exception as error:
        reason = error.reason if isinstance(error, RetryLater) else type(error).__name__
        if not isinstance(error, RetryLater):
            log.exception("sending %s %s failed; it will be retried", model.__tablename__, row.id)  # type: ignore[attr-defined]
        throttled = isinstance(error, RetryLater) and error.after > 0
        outage = isinstance(error, RetryLater) and error.outage
        if not throttled and row.attempts >= (MAX_OUTAGE_ATTEMPTS if outage else MAX_ATTEMPTS):
            _gave_up(model, row, f"{row.attempts} attempts, last: {reason}")
            values, tally = {"status": FAILED, "error": f"gave up: {reason}"[:64]}, Tally(failed=1)
        else:
            after = error.after if isinstance(error, RetryLater) else 0.0
            pause = after
            values = {
                "status": PENDING,
                "error": reason[:64],
                "not_before": now + backoff(row.attempts, after),
            }
            tally = Tally(retrying=1)
    else:
        values = {
            "status": SENT,
            "error": None,
            "sent_at": now,
            "channel_id": delivered.channel_id,
            "message_ts": delivered.ts,
        }
        tally = Tally(sent=1)
    return tally, values, pause


def _record(
    sessions: sessionmaker[Session],
    model: type[SendState],
    row_id: int,
    claimed_at: datetime,
    values: dict[str, Any],
) -> None:
    with sessions() as session, session.begin():
        session.execute(
            update(model)
            .where(model.id == row_id, model.status == SENDING, model.claimed_at == claimed_at)  # type: ignore[attr-defined]
            .values(**values)
        )


def _gave_up(model: type[SendState], row: SendState, reason: str) -> None:
    log.warning("gave up sending %s %s: %s", model.__tablename__, row.id, reason)  # type: ignore[attr-defined]
