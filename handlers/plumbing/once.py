"""At most one effect per Slack delivery.

Slack retries an event it thinks we missed (`X-Slack-Retry-Num`), and with several web
processes the retry may land on another one. A row per delivery key, claimed before the work
and marked done after it, makes the second delivery a no-op. A claim that is never finished
(the process was killed mid-answer) expires, so Slack's later retry can still answer instead of
the question being lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models import ProcessedEvent
from models.base import utcnow
from models.workspace import ALL_WORKSPACES

TAKEOVER_AFTER = timedelta(seconds=45)
KEEP_FOR = timedelta(days=2)


class Once:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def claim(self, key: str) -> bool:
        """True when this caller should do the work for `key`."""
        now = utcnow()
        try:
            with self.sessions() as session, session.begin():
                session.add(ProcessedEvent(key=key, claimed_at=now, done=False))
            return True
        except IntegrityError:
            pass
        with self.sessions() as session, session.begin():
            taken = session.execute(
                update(ProcessedEvent)
                .where(
                    ProcessedEvent.key == key,
                    ProcessedEvent.done.is_(False),
                    ProcessedEvent.claimed_at < now - TAKEOVER_AFTER,
                )
                .values(claimed_at=now)
            )
            return bool(taken.rowcount)

    def finish(self, key: str) -> None:
        with self.sessions() as session, session.begin():
            session.execute(
                update(ProcessedEvent).where(ProcessedEvent.key == key).values(done=True)
            )

    def release(self, key: str) -> None:
        """Give the key back after a failure, so Slack's retry is not ignored."""
        with self.sessions() as session, session.begin():
            session.execute(
                delete(ProcessedEvent).where(
                    ProcessedEvent.key == key, ProcessedEvent.done.is_(False)
                )
            )

    def forget_old(self) -> int:
        return forget_old_claims(self.sessions)

    @contextmanager
    def run(self, key: str) -> Iterator[bool]:
        """`with once.run(key) as first:` work only when `first`; a failure releases the key."""
        if not self.claim(key):
            yield False
            return
        try:
            yield True
        except BaseException:
            self.release(key)
            raise
        self.finish(key)


def forget_old_claims(sessions: sessionmaker[Session]) -> int:
    """Slack stops retrying within minutes; older keys, of any workspace, only take space."""
    with sessions() as session, session.begin():
        gone = session.execute(
            delete(ProcessedEvent)
            .where(ProcessedEvent.claimed_at < utcnow() - KEEP_FOR)
            .execution_options(**ALL_WORKSPACES)
        )
        return int(gone.rowcount or 0)
