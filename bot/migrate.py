"""Run Alembic programmatically so `lepton migrate` needs no alembic.ini in the working dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData

import models
from bot.slack_tables import slack_metadata

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
LIBRARY_OWNED_TABLES = frozenset({"apscheduler_jobs"})


def target_metadata() -> list[MetaData]:
    return [models.Base.metadata, slack_metadata()]


def include_name(name: str | None, type_: str, _parent: Any) -> bool:
    """APScheduler creates and owns its job table; autogenerate must not try to drop it."""
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


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Upgrade to head; return (revision before, revision after)."""
    before = current_revision(engine)
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return before, current_revision(engine)
