"""Migrations create the schema the models describe, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError

from bot import migrate as migrations
from bot.migrate import include_name, target_metadata
from models import SurveyDelivery, SurveyRound
from people.surveys.sealing import Draft, Seal
from tests.helpers import local_sessions

pytestmark = pytest.mark.both_backends

OPENED = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


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
        "survey_sealed_answers",
        "survey_answers",
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


def test_survey_rows_written_before_0003_keep_their_state(engine: Engine) -> None:
    """A delivery recorded under the old columns keeps its channel and due time."""
    config = migrations.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0002")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO surveys (id, key, title, definition, anonymity_threshold,"
                " active, created_at, updated_at) VALUES (1, 'pulse', 'Pulse', '{}', 5,"
                " true, :t, :t)"
            ),
            {"t": OPENED},
        )
        conn.execute(
            text(
                "INSERT INTO survey_rounds (id, survey_id, number, opened_at, closes_at)"
                " VALUES (1, 1, 1, :t, :t)"
            ),
            {"t": OPENED},
        )
        conn.execute(
            text(
                "INSERT INTO survey_deliveries (round_id, user_id, status, attempts,"
                " dm_channel_id, responded) VALUES (1, 'U1', 'sent', 1, 'D1', false)"
            )
        )
    migrations.upgrade(engine)
    with local_sessions(engine)() as session:
        delivery = session.scalars(select(SurveyDelivery)).one()
        send_on = session.scalars(select(SurveyRound.send_on)).one()
    assert delivery.channel_id == "D1"
    assert delivery.not_before == OPENED, "never sent: due from when its round opened"
    assert send_on == "2026-11-02"


def test_the_old_shared_scheduler_job_table_is_dropped(engine: Engine) -> None:
    """Before 0005 every `serve` and `worker` shared APScheduler's job table; upgrading removes
    it, so no scheduler can pick up another's stored jobs."""
    config = migrations.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE apscheduler_jobs (id VARCHAR(191) PRIMARY KEY)"))
    migrations.upgrade(engine)
    assert "apscheduler_jobs" not in inspect(engine).get_table_names()


def test_rows_stored_before_workspaces_belong_to_the_team_migrate_is_given(engine: Engine) -> None:
    """Upgrading a single-workspace database: every row becomes that workspace's, its index
    version carries over, and another workspace may then store the same source or key."""
    config = migrations.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0005")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO documents (id, source_type, source, title, content_hash, visibility,"
                " tags, created_at, updated_at) VALUES (1, 'file', 'ops/vpn.md', 'VPN', 'h',"
                " 'public', '[]', :t, :t)"
            ),
            {"t": OPENED},
        )
        conn.execute(
            text("INSERT INTO index_state (id, version, model, updated_at) VALUES (1, 7, 'm', :t)"),
            {"t": OPENED},
        )
        conn.execute(
            text("INSERT INTO survey_opt_outs (user_id, created_at) VALUES ('U1', :t)"),
            {"t": OPENED},
        )
    migrations.upgrade(engine, "T0ACME")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT team_id FROM documents")).scalars().all() == ["T0ACME"]
        assert conn.execute(text("SELECT team_id, version FROM index_state")).all() == [
            ("T0ACME", 7)
        ]
        assert conn.execute(text("SELECT team_id FROM survey_opt_outs")).scalars().all() == [
            "T0ACME"
        ]
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO documents (id, source_type, source, title, content_hash, visibility,"
                " tags, created_at, updated_at, team_id) VALUES (2, 'file', 'ops/vpn.md', 'VPN',"
                " 'h', 'public', '[]', :t, :t, 'T0OTHER')"
            ),
            {"t": OPENED},
        )
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO documents (id, source_type, source, title, content_hash, visibility,"
                " tags, created_at, updated_at, team_id) VALUES (3, 'file', 'ops/vpn.md', 'VPN',"
                " 'h', 'public', '[]', :t, :t, 'T0ACME')"
            ),
            {"t": OPENED},
        )


def test_survey_answers_stored_in_the_clear_are_sealed_or_split(engine: Engine) -> None:
    """Before 0007 an open round's answers sat in the clear next to their respondent key, and a
    closed round's as one row per person. Upgrading seals the first with the secret `migrate`
    is given and splits the second, keeping only what a round closed today keeps."""
    config = migrations.alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0006")
    team = {"t": OPENED, "team": "T0ACME"}
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO surveys (id, key, title, definition, anonymity_threshold, active,"
                " created_at, updated_at, team_id) VALUES (1, 'pulse', 'Pulse', '{}', 3, true,"
                " :t, :t, :team)"
            ),
            team,
        )
        for number, closed in ((1, OPENED), (2, None)):
            conn.execute(
                text(
                    "INSERT INTO survey_rounds (id, survey_id, number, send_on, opened_at,"
                    " closes_at, closed_at, team_id) VALUES (:n, 1, :n, '2026-11-02', :t, :t,"
                    " :closed, :team)"
                ),
                {**team, "n": number, "closed": closed},
            )
        responses = [
            ("r1", 1, None, '{"q": 4, "rare": 1}', "more focus"),
            ("r2", 1, None, '{"q": 2}', "fewer meetings"),
            ("r3", 1, None, '{"q": 5}', "ok"),
            ("r4", 2, "k" * 64, '{"q": 3}', "still open"),
        ]
        for rid, round_id, key, answers, comment in responses:
            conn.execute(
                text(
                    "INSERT INTO survey_responses (id, round_id, respondent_key, answers, comment,"
                    " team_id) VALUES (:id, :r, :k, :a, :c, :team)"
                ),
                {**team, "id": rid, "r": round_id, "k": key, "a": answers, "c": comment},
            )
    migrations.upgrade(engine, "T0ACME", b"the app's secret")
    assert "survey_responses" not in inspect(engine).get_table_names()
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT question, value FROM survey_answers ORDER BY id")).all()
        comments = conn.execute(text("SELECT text FROM survey_comments ORDER BY id")).scalars()
        ((key, round_id, sealed),) = conn.execute(
            text("SELECT respondent_key, round_id, sealed FROM survey_sealed_answers")
        ).all()
        (tally,) = (
            conn.execute(select(SurveyRound.tally).where(SurveyRound.id == 1)).scalars().all()
        )
        assert list(comments) == ["fewer meetings", "more focus", "ok"]
    assert [tuple(r) for r in kept] == [("q", 2), ("q", 4), ("q", 5)], "`rare` had one answer"
    assert tally == {"respondents": {"": 3}, "withheld": {"rare": 1}, "comments_withheld": 0}
    opened = Seal(b"the app's secret").open(round_id, key, bytes(sealed))
    assert opened == Draft({"q": 3}, "still open")
