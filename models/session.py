"""Engines and sessions that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

BUSY_TIMEOUT = 30.0
"""Seconds a SQLite write waits for another process's write lock before failing."""
ANALYSIS_ROWS = 1000
"""Rows per index SQLite's ANALYZE samples: milliseconds even at a million ratings, and enough
to tell a one-value column from a unique one."""
CHECKPOINT_WAIT_MS = 500
"""How long a truncating checkpoint waits for readers and writers; busy, it is tried later
rather than holding up everyone's writes while it waits."""


def create_db_engine(url: str, *, busy_timeout: float = BUSY_TIMEOUT, **kwargs: Any) -> Engine:
    """SQLite gets foreign keys, WAL and a busy timeout so web and worker processes can share it,
    and overwrites what it deletes with zeros (see `forget_deleted`).
    Elsewhere each pooled connection is pinged before use: one the server dropped (a restart,
    a failover) is replaced instead of failing the request that drew it."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout}, **kwargs)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def upsert_insert(session: Session, table: Any) -> PgInsert | SqliteInsert:
    """An INSERT with `on_conflict_do_*` for whichever backend the session talks to."""
    dialect = session.get_bind().dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


def forget_deleted(engine: Engine, table: str) -> bool:
    """Rid the database's own files of rows deleted from `table`, as far as the backend allows;
    False when it is busy now (try again later). SQLite has zeroed deleted rows in place
    (`secure_delete`) but the WAL still holds their earlier pages until it is checkpointed and
    truncated. PostgreSQL keeps deleted rows as dead tuples until VACUUM, and even then their
    bytes until the space is reused: VACUUM FULL writes the table afresh."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
            try:
                busy, _, _ = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            finally:
                conn.invalidate()
            return not busy
    quoted = engine.dialect.identifier_preparer.quote(table)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("SET lock_timeout = '5s'")
        try:
            conn.exec_driver_sql(f"VACUUM FULL {quoted}")
        except OperationalError:
            return False
    return True


def refresh_statistics(engine: Engine) -> None:
    """Give SQLite's query planner statistics. Every workspace-scoped statement carries
    `team_id = ?`, and without statistics the planner takes the `team_id` index (in a one-workspace
    install, every row) over the unique (person, snippet) one: at 1M ratings, finding the asker's
    votes among the candidates read them all, 46 ms of a 96 ms search. PostgreSQL's autovacuum
    keeps its own statistics."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        conn.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_ROWS}")
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
