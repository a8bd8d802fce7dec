"""Run Alembic programmatically so `lepton migrate` needs no alembic.ini in the working dir."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData

import models
from bot.slack_tables import slack_metadata
from models.session import refresh_statistics
from models.workspace import LOCAL_TEAM

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
LIBRARY_OWNED_TABLES = frozenset({"apscheduler_jobs"})


def target_metadata() -> list[MetaData]:
    return [models.Base.metadata, slack_metadata()]


def include_name(name: str | None, type_: str, _parent: Any) -> bool:
    """APScheduler's job table, which an older worker still running during a deploy may create,
    is not Lepton's: autogenerate must not try to drop it."""
    return not (type_ == "table" and name in LIBRARY_OWNED_TABLES)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(
    engine: Engine, team: str = LOCAL_TEAM, survey_secret: bytes | None = None
) -> tuple[str | None, str | None]:
    """Upgrade to head; return (revision before, revision after). Rows stored before Lepton
    kept workspaces apart are given to `team`; open survey rounds' answers are sealed with
    `survey_secret` (the app's, see `bot.services.respondent_secret`)."""
    before = current_revision(engine)
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    config.attributes["lepton_team"] = team
    config.attributes["lepton_survey_secret"] = survey_secret
    with engine.connect() as conn, _foreign_keys_deferred(conn), conn.begin():
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    refresh_statistics(engine)
    return before, current_revision(engine)


@contextmanager
def _foreign_keys_deferred(conn: Connection) -> Iterator[None]:
    """SQLite alters a table by copying and dropping it; with foreign keys on, dropping the old
    copy would cascade-delete every child row. Off for the migration, checked, then back on."""
    if conn.dialect.name != "sqlite":
        yield
        return
    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    conn.commit()
    try:
        yield
        if broken := conn.exec_driver_sql("PRAGMA foreign_key_check").all():
            raise RuntimeError(f"migration left rows without their parents: {broken[:5]}")
    finally:
        conn.rollback()
        conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        conn.commit()
