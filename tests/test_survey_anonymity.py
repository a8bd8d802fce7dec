"""Whoever owns the database tries to re-identify six people's survey answers, during and after
the round, with everything they can get: the raw bytes of the database files (SQLite's file,
WAL and shared memory; PostgreSQL's data directory and WAL), every row at every moment, the bot
token reading each survey DM back through `conversations.history`, every INFO log line and the
posted digest. They know who was asked, which channel each person is in, when each person
answered, which questions they answered and whether they commented (their DM says so). They do
not hold the app's secret (the Slack signing secret), which never reaches the database.

People answer over real signed HTTP requests to the running app, one after another; the
adversary takes a snapshot after each of them, and after the round has closed and the
scheduler has run once more."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import Engine, inspect, text

from bot.simulated_slack.payloads import view_submission
from tests.slack_app import ADMIN, RunningApp, blocks_text, running_app, settle, wait_for
from tests.test_survey_slack import (
    actor,
    answer,
    current,
    invitation,
    press,
    round_start,
    run_command,
)

pytestmark = pytest.mark.both_backends

THRESHOLD = 3
ENG = ["UENGAA01", "UENGBB02", "UENGCC03"]
OPS = ["UOPSDD04", "UOPSEE05", "UOPSFF06"]
LEADS = "CLEADS01"
QUESTIONS = ("workload", "enps", "focus")
GIVEN: list[tuple[str, dict[str, int], str | None]] = [
    (ENG[0], {"workload": 5, "enps": 10, "focus": 0}, "comment-kiwi: standups run long"),
    (ENG[1], {"workload": 4, "enps": 9, "focus": 1}, "comment-lime: the build is slow"),
    (ENG[2], {"workload": 3, "enps": 7}, "comment-mango: too many reorgs"),
    (OPS[0], {"workload": 2, "enps": 3, "focus": 0}, None),
    (OPS[1], {"workload": 1, "enps": 0, "focus": 1}, "comment-peach: on-call burns us out"),
    (OPS[2], {"workload": 1}, None),
]
"""In the order they answer: the opposite of their workload answers' order. One person skips a
question, one answers a single question and writes nothing."""
MARKERS = [c.split(":")[0] for _, _, c in GIVEN if c]
SURVEY = f"""
surveys:
  - key: pulse
    title: Team pulse
    questions:
      - {{id: workload, text: "My workload is manageable."}}
      - {{id: enps, kind: enps, text: "How likely are you to recommend working here?"}}
      - {{id: focus, kind: choice, text: "What slowed you down most?", labels: [Meetings, Tooling]}}
    comment: Anything leadership should hear?
    channels: ["#eng", "#ops"]
    segment_by_channel: true
    send_time: "09:00"
    window: 14d
    digest_channels: ["#people-leads"]
    anonymity_threshold: {THRESHOLD}
"""


@dataclass
class Snapshot:
    label: str
    raw: dict[str, bytes]
    rows: dict[str, set[str]]


@dataclass
class Adversary:
    """The database owner: reads files and rows directly, and the DMs with the bot token."""

    app: RunningApp
    engine: Engine
    snapshots: list[Snapshot] = field(default_factory=list)

    def files(self) -> dict[str, bytes]:
        if self.engine.dialect.name == "sqlite":
            db = Path(str(self.engine.url.database))
            paths = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
            return {p.name: p.read_bytes() for p in paths if p.exists()}
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("CHECKPOINT")
            data = Path(conn.exec_driver_sql("SHOW data_directory").scalar_one())
            oid = conn.exec_driver_sql(
                "SELECT oid FROM pg_database WHERE datname = current_database()"
            ).scalar_one()
        if not data.is_dir():
            pytest.skip("PostgreSQL's data directory is not on this machine")
        found = [*(data / "base" / str(oid)).iterdir(), *(data / "pg_wal").glob("0*")]
        return {f"{p.parent.name}/{p.name}": p.read_bytes() for p in found if p.is_file()}

    def rows(self) -> dict[str, set[str]]:
        with self.engine.connect() as conn:
            return {
                table: {repr(tuple(r)) for r in conn.execute(text(f'SELECT * FROM "{table}"'))}
                for table in inspect(conn).get_table_names()
            }

    def snapshot(self, label: str) -> Snapshot:
        taken = Snapshot(label, self.files(), self.rows())
        self.snapshots.append(taken)
        return taken

    def sealed(self) -> dict[str, bytes]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT respondent_key, sealed FROM survey_sealed_answers"))
            return {str(k): bytes(v) for k, v in rows}

    def dm(self, channel: str) -> list[dict[str, Any]]:
        token = self.app.services.settings.slack_bot_token
        assert token is not None
        client = WebClient(token=token.get_secret_value(), base_url=self.app.slack.base_url)
        return list(client.conversations_history(channel=channel, limit=100)["messages"])

    def dm_channels(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT user_id, channel_id FROM survey_deliveries WHERE channel_id IS NOT NULL"
                )
            )
            return {str(u): str(c) for u, c in rows}


@pytest.fixture
def app(engine: Engine, tmp_path: Path, embedder: Any) -> Iterator[RunningApp]:
    surveys = tmp_path / "surveys.yml"
    surveys.write_text(SURVEY, encoding="utf-8")
    with running_app(engine, tmp_path / "data", embedder, lepton_surveys=surveys) as running:
        ws = running.workspace
        for user in ENG + OPS:
            ws.add_user(user, user.lower(), tz="UTC")
        ws.add_user(ADMIN, "admin", tz="UTC")
        ws.add_channel("CENG0001", "eng", members=ENG)
        ws.add_channel("COPS0001", "ops", members=OPS)
        ws.add_channel(LEADS, "people-leads", members=[ADMIN])
        ws.add_channel("CGENERAL", "general", members=[ADMIN])
        yield running


def comment(app: RunningApp, user: str, words: str) -> None:
    message = invitation(app, user)
    press(app, user, message, "survey_comment")
    wait_for(lambda: app.workspace.modals(user))
    modal = app.workspace.pop_modal(user)
    assert modal is not None
    assert app.send(view_submission(actor(user), modal.view, {"comment": words})).status == 200
    wait_for(lambda: "Comment recorded" in blocks_text(current(app, message).blocks))
    settle(app)


def tokens_in(messages: list[dict[str, Any]]) -> set[str]:
    return set(re.findall(r'\\?"t\\?": ?\\?"([A-Za-z0-9_-]{20,})', json.dumps(messages)))


def test_nobody_is_re_identified_from_files_rows_dms_logs_or_the_digest(
    app: RunningApp, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the production level; DEBUG logs Slack request bodies
    adversary = Adversary(app, engine)
    start = round_start()
    app.services.home.surveys.start("pulse", start)
    app.services.home.scheduled_work(start)
    channels = adversary.dm_channels()
    assert set(channels) == set(ENG + OPS)
    adversary.snapshot("invited")

    tokens: set[str] = set()
    ciphertexts: set[bytes] = set()
    for user, answers, words in GIVEN:
        for question, value in answers.items():
            answer(app, user, question, value)
        if words:
            comment(app, user, words)
        before = adversary.snapshots[-1]
        taken = adversary.snapshot(f"after {user}")

        # The WAL, the file and every row, right after this person answered.
        for name, data in taken.raw.items():
            for marker in MARKERS:
                assert marker.encode() not in data, f"{marker} readable in {name} mid-round"
        for table, rows in taken.rows.items():
            for row in rows - before.rows.get(table, set()):
                assert not any(q in row for q in QUESTIONS), f"{table} row names a question"
                assert not any(m in row for m in MARKERS), f"{table} row holds a comment"
        # What the bot token reads: which questions are answered, never with what.
        history = adversary.dm(channels[user])
        tokens |= tokens_in(history)
        ciphertexts |= set(adversary.sealed().values())
        shown = json.dumps(history)
        assert not any(m in shown for m in MARKERS)
        assert '"style"' not in shown, "a chosen button is highlighted"
    sealed_sizes = {len(c) for c in ciphertexts}
    assert len(sealed_sizes) == 1, f"sealed rows differ in length: {sealed_sizes}"

    # Neither a token read from a DM nor anything the bot token gives leads to a stored key.
    bot = app.services.settings.slack_bot_token
    assert bot is not None and tokens
    guesses = set()
    for token in tokens:
        guesses |= {
            hashlib.sha256(token.encode()).hexdigest(),
            hmac.new(bot.get_secret_value().encode(), token.encode(), "sha256").hexdigest(),
            hashlib.sha256((token + bot.get_secret_value()).encode()).hexdigest(),
        }
    keys = set(adversary.sealed())
    assert keys and not guesses & keys

    run_command(app, ADMIN, "survey close pulse")
    app.services.home.scheduled_work(datetime.now(UTC) + timedelta(minutes=1))
    closed = adversary.snapshot("closed")

    # Nothing of the sealed rows or their keys is left in the database's files.
    # PostgreSQL's own WAL keeps the ciphertext until its segments are recycled (README).
    files = {n: d for n, d in closed.raw.items() if not n.startswith("pg_wal/")}
    for blob in ciphertexts:
        for offset in (100, len(blob) // 2, len(blob) - 100):
            fragment = blob[offset : offset + 24]
            assert not any(fragment in data for data in files.values()), "a sealed row survives"
    for key in keys:
        assert not [n for n, data in files.items() if key.encode() in data], "a key survives"

    # Every DM now reads the same, with no token left in it.
    texts = set()
    for user in ENG + OPS:
        survey_dms = [m for m in adversary.dm(channels[user]) if m.get("bot_id")]
        texts |= {blocks_text(m.get("blocks") or []) + m.get("text", "") for m in survey_dms}
        assert not tokens_in(survey_dms)
    assert len(texts) == 1, texts
    assert not adversary.dm_channels(), "no row keeps where a survey DM is"

    # The stored answers: single rows in the order of their content, linked to nothing.
    with engine.connect() as conn:
        stored = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM survey_answers"))]
        said = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM survey_comments"))]
    stored.sort(key=lambda r: r["id"])
    assert [(r["question"], r["value"], r["segment"] or "") for r in stored] == sorted(
        (r["question"], r["value"], r["segment"] or "") for r in stored
    ), "the order of rows is the order of their content, not of answering"
    links = set(stored[0]) - {"id", "round_id", "team_id", "enterprise_id", "question", "value"}
    for user, answers, _ in GIVEN:
        for column in links:
            groups: dict[Any, list[str]] = {}
            for row in stored:
                groups.setdefault(row[column], []).append(row["question"])
            assert sorted(answers) not in [sorted(g) for g in groups.values()], (
                f"grouping answers by {column} finds {user}'s exact set of answers"
            )
    cells: dict[tuple[str, str | None], int] = {}
    for row in stored:
        cells[row["question"], row["segment"]] = cells.get((row["question"], row["segment"]), 0) + 1
    assert all(n >= THRESHOLD for n in cells.values()), cells
    assert set(said[0]) == {"id", "round_id", "team_id", "enterprise_id", "text"}
    assert [c["text"] for c in sorted(said, key=lambda c: c["id"])] == sorted(
        c for _, _, c in GIVEN if c
    )

    # The digest and the logs.
    digest = "\n".join(blocks_text(m.blocks) for m in app.workspace.messages(LEADS) if m.blocks)
    assert "Team pulse, round 1" in digest and "6 of 6 answered" in digest
    assert not any(user in digest for user in ENG + OPS)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for user, _, words in GIVEN:
        assert not words or words not in logged, "a comment reached the logs"
        lines = [line for line in logged.splitlines() if user in line]
        assert not any(q in line for line in lines for q in QUESTIONS), lines
