"""The database away for a while: nothing lost, nothing twice, no restart.

Events (reactions, mentions, DMs, the App Home) are acknowledged by Bolt before their listener
runs, so a listener failing on the database afterwards would lose the event: Slack only retries
deliveries we did not acknowledge. The guard therefore tries a write before the ack and, when the
database cannot take one (PostgreSQL down, a SQLite file locked by another writer for longer than
the busy timeout), refuses the delivery with 503 (in Socket Mode: leaves it unacknowledged).
Slack retries it (`X-Slack-Retry-Num`: at once, after a minute, after five), and `Once` makes the
retry that finds the database back count exactly once. Slack holds the event meanwhile, so a
process that dies during the outage loses nothing either, which an in-process queue could not
promise; an outage longer than Slack's last retry loses the event, and the log says which.

Commands, buttons and modals are never retried by Slack, so they run as usual; a database failure
reaching the error handler (`database_unavailable`) is told to the person as "try again shortly"
instead of the apology: nothing was written, so repeating it records it once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware
from sqlalchemy import Engine, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from models import ProcessedEvent

log = logging.getLogger(__name__)
RETRY_LATER = 503
PROBE_KEY = "database-guard:probe"
NOT_TRANSIENT = ("no such table", "no such column", "syntax error")
"""SQLite raises OperationalError for a missing schema too: that is a deployment bug, not an
outage, so it keeps the apology with a reference."""


def database_unavailable(error: BaseException) -> bool:
    """True when `error` (or what caused it) means the database cannot be used right now."""
    for link in _chain(error):
        if isinstance(link, PoolTimeout):
            return True
        if isinstance(link, DBAPIError):
            if link.connection_invalidated:
                return True
            if isinstance(link, OperationalError | InterfaceError):
                return not any(words in str(link.orig).lower() for words in NOT_TRANSIENT)
    return False


def database_writable(engine: Engine) -> bool:
    """A write that changes nothing. It needs what an event's work needs, a live connection and
    the write lock (a read passes on SQLite while another writer holds the file), and costs no
    more than a round trip: no row matches, so nothing is written."""
    try:
        with engine.begin() as connection:
            connection.execute(
                update(ProcessedEvent).where(ProcessedEvent.key == PROBE_KEY).values(done=True)
            )
    except (DBAPIError, PoolTimeout) as error:
        log.warning("database cannot take writes: %s", error)
        return False
    return True


class EventsWaitForDatabase(Middleware):
    """Refuses Events API deliveries while the database is away, so Slack delivers them again."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def process(
        self,
        *,
        req: BoltRequest,
        resp: BoltResponse,
        next: Callable[[], BoltResponse],
    ) -> BoltResponse | None:
        if req.body.get("type") == "event_callback" and not database_writable(self.engine):
            log.warning(
                "refusing event %s until the database is back; Slack will retry it",
                req.body.get("event_id"),
            )
            return BoltResponse(status=RETRY_LATER, body="database unavailable, retry later")
        return next()


def register(app: App, engine: Engine) -> None:
    app.middleware(EventsWaitForDatabase(engine))


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
