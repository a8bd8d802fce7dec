"""Sending the messages Lepton starts itself, each exactly once.

A due row (see `models.sending.SendState`) is claimed with a conditional UPDATE, so of two
workers only one wins it; then the caller's `send` posts it and the outcome is written back.
If a process dies after claiming, the claim lapses after `LEASE` and the row is tried again
with `retry=True`, telling `send` to look for the earlier message before posting a second one.
Slack errors worth retrying back off exponentially; a 429 waits as long as Slack's `Retry-After`
says, and the whole pass pauses that long before the next message, as Slack asks. Slack
being down (5xx, timeouts) is retried for about a day (`MAX_OUTAGE_ATTEMPTS`), so an outage
delays messages without losing them; any other error gives up after `MAX_ATTEMPTS`. A row
given up is marked failed with its reason and logged, never silently dropped.
"""

from __future__ import annotations

import logging
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
    older than `lease` is taken to belong to a dead process."""
    due = _due(model, now, lease)
    with sessions() as session:
        ids = session.scalars(
            select(model.id).where(due, *where).order_by(model.not_before, model.id).limit(limit)  # type: ignore[attr-defined]
        ).all()
    tally = Tally()
    for row_id in ids:
        row = _claim(sessions, model, row_id, due, now)
        if row is None:
            continue
        outcome, pause = _send(sessions, model, row, now, send)
        tally += outcome
        if pause:
            time.sleep(min(pause, MAX_PAUSE.total_seconds()))
    return tally


def _due(model: type[SendState], now: datetime, lease: timedelta) -> ColumnElement[bool]:
    return or_(
        and_(model.status == PENDING, model.not_before <= now),
        and_(model.status == SENDING, model.claimed_at < now - lease),
    )


def _claim(
    sessions: sessionmaker[Session],
    model: type[Row],
    row_id: int,
    due: ColumnElement[bool],
    now: datetime,
) -> Row | None:
    with sessions() as session, session.begin():
        won = session.execute(
            update(model)
            .where(model.id == row_id, due)  # type: ignore[attr-defined]
            .values(status=SENDING, claimed_at=now, attempts=model.attempts + 1)
        )
        if won.rowcount != 1:
            return None
        return session.get(model, row_id)


def _send(
    sessions: sessionmaker[Session], model: type[Row], row: Row, now: datetime, send: Send
) -> tuple[Tally, float]:
    """The outcome, and how long Slack asked everyone to wait (Retry-After) before the next."""
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
    with sessions() as session, session.begin():
        session.execute(
            update(model)
            .where(model.id == row.id, model.status == SENDING, model.claimed_at == now)  # type: ignore[attr-defined]
            .values(**values)
        )
    return tally, pause


def _gave_up(model: type[SendState], row: SendState, reason: str) -> None:
    log.warning("gave up sending %s %s: %s", model.__tablename__, row.id, reason)  # type: ignore[attr-defined]
