"""Migrations create the schema the models describe, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from bot import migrate as migrations
from bot.migrate import include_name, target_metadata


def test_upgrade_creates_every_table(engine: Engine) -> None:
    before, after = migrations.upgrade(engine)
    assert before is None
    assert after == migrations.head_revision()
    expected = {name for md in target_metadata() for name in md.tables}
    assert expected <= set(inspect(engine).get_table_names())
    assert {
        "documents",
        "snippets",
        "ratings",
        "survey_responses",
        "slack_installations",
    } <= expected


def test_models_and_migrations_agree(engine: Engine) -> None:
    migrations.upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": include_name}
        )
        diff = compare_metadata(context, target_metadata())
    assert diff == []


def test_upgrade_twice_is_a_no_op(engine: Engine) -> None:
    migrations.upgrade(engine)
    tables = set(inspect(engine).get_table_names())
    before, after = migrations.upgrade(engine)
    assert before == after == migrations.head_revision()
    assert set(inspect(engine).get_table_names()) == tables


def test_downgrade_then_upgrade_round_trips(engine: Engine) -> None:
    migrations.upgrade(engine)
    config = migrations.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrations.upgrade(engine)
    assert migrations.current_revision(engine) == migrations.head_revision()
