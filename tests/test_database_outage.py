"""The database away for a while (a PostgreSQL server stopped as abruptly as a crash, a SQLite
file held by another writer past the busy timeout), with the real app running throughout:
questions get a clear "try again shortly", reactions and mentions are refused so Slack retries
them and count once when the database is back, and the same process answers again without a
restart."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.simulated_slack.payloads import event
from handlers.knowledge import replies
from indexer.learning.answer_log import find_answer
from models import QueryLog, create_db_engine
from tests.postgres_server import PostgresServer
from tests.slack_app import ADMIN, TEAM, RunningApp, blocks_text, running_app, settle, wait_for
from tests.test_slack_app import (
    actor,
    answer_rows,
    ask,
    mention_event,
    posts,
    press,
    ratings_of,
    reaction,
)

BUSY_TIMEOUT = 1.0
PEOPLE = ["UALICE01", "UBOB0001", "UCAROL01", "UDAVE001", "UERIN001", ADMIN]


@dataclass
class Outage:
    """How a backend's database goes away: `away()` keeps it away for the `with` block."""

    server: PostgresServer | None = None
    path: Path | None = None

    def away(self) -> AbstractContextManager[None]:
        return self.server.down() if self.server else _locked(self.path)


@contextmanager
def _locked(path: Path | None) -> Iterator[None]:
    """Another process holding SQLite's write lock (readers still read, as in WAL they do)."""
    assert path is not None
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield
        holder.execute("ROLLBACK")
    finally:
        holder.close()


@dataclass
class Setup:
    app: RunningApp
    outage: Outage


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def setup(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder: Any
) -> Iterator[Setup]:
    """A private PostgreSQL server (shared ones must not be stopped), or a SQLite file whose busy
    timeout is short so waiting out the lock stays quick."""
    if request.param == "postgresql":
        server = PostgresServer.start()
        outage = Outage(server=server)
        url = server.url
    else:
        server = None
        path = tmp_path_factory.mktemp("db") / "lepton.db"
        outage = Outage(path=path)
        url = f"sqlite:///{path}"
    engine = create_db_engine(url, busy_timeout=BUSY_TIMEOUT)
    try:
        with running_app(engine, tmp_path_factory.mktemp("app"), embedder) as running:
            for user in PEOPLE:
                running.workspace.add_user(user, user[1:].lower().rstrip("0123456789"))
            running.workspace.add_channel("CGENERAL", "general", members=PEOPLE)
            yield Setup(running, outage)
    finally:
        engine.dispose()
        if server is not None:
            server.stop()


def logged(app: RunningApp, query: str) -> int:
    with app.services.home.sessions() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(QueryLog).where(QueryLog.query == query)
            )
            or 0
        )


def told_to_try_again(app: RunningApp, since: int) -> None:
    """The one thing the person was told: the "try again shortly" whisper, no apology."""
    said = app.responses()[since:]
    assert [r.get("text") for r in said] == [replies.DATABASE_AWAY], said
    assert "reference" not in said[0]["text"]
    assert said[0].get("response_type") == "ephemeral"


def test_a_question_while_the_database_is_away_says_try_again_and_is_logged_once(
    setup: Setup,
) -> None:
    app = setup.app
    query = "how do I roll back a kubernetes deployment"
    in_channel, responses = len(posts(app, "CGENERAL")), len(app.responses())
    with setup.outage.away():
        reply = app.command(actor("UALICE01"), f"find {query}")
        assert reply.status == 200, "acknowledged, so Slack shows no error of its own"
        wait_for(lambda: app.responses()[responses:])
        settle(app)
    told_to_try_again(app, responses)
    assert len(posts(app, "CGENERAL")) == in_channel, "nothing was posted in the channel"
    answer = ask(app, "UALICE01", query)
    assert "Kubernetes" in blocks_text(answer.blocks), "the same process answers again"
    assert logged(app, query) == 1


def test_a_reaction_while_the_database_is_away_is_rated_once_on_slacks_retry(
    setup: Setup,
) -> None:
    """Slack retries only deliveries we refused; it may deliver a retry twice when the first
    retry's acknowledgement looks late to it."""
    app = setup.app
    answer = ask(app, "UBOB0001", "tensorflow 2 migration")
    shown = find_answer(app.services.home.sessions, "CGENERAL", answer.ts)
    assert shown is not None
    rated = shown.reaction_rates
    app.workspace.add_reaction("CGENERAL", answer.ts, "UCAROL01", "+1")
    payload = reaction("reaction_added", "UCAROL01", "+1", "CGENERAL", answer.ts)
    first = event(TEAM, payload)
    event_id = json.loads(first.body)["event_id"]
    with setup.outage.away():
        refused = app.send(first)
        settle(app)
    assert not 200 <= refused.status < 300, "acknowledged while it could not be recorded: lost"
    assert not ratings_of(app, "UCAROL01")
    for attempt in (1, 2):
        assert app.send(event(TEAM, payload, event_id=event_id, retry=attempt)).status == 200
    wait_for(lambda: len(ratings_of(app, "UCAROL01")) == len(rated))
    settle(app)
    assert ratings_of(app, "UCAROL01") == dict.fromkeys(rated, 1)


def test_a_mention_while_the_database_is_away_is_answered_once_on_slacks_retry(
    setup: Setup,
) -> None:
    app = setup.app
    question = "how do I request access to production?"
    message = app.workspace.post_user_message("CGENERAL", "UDAVE001", f"<@ULEPTONBOT> {question}")
    payload = mention_event("UDAVE001", message.text, message.ts)
    first = event(TEAM, payload)
    event_id = json.loads(first.body)["event_id"]
    with setup.outage.away():
        refused = app.send(first)
        settle(app)
    assert not 200 <= refused.status < 300, "acknowledged while it could not be answered: lost"
    assert not app.workspace.thread("CGENERAL", message.ts)[1:]
    for attempt in (1, 2):
        assert app.send(event(TEAM, payload, event_id=event_id, retry=attempt)).status == 200
    wait_for(lambda: app.workspace.thread("CGENERAL", message.ts)[1:])
    settle(app)
    answers = app.workspace.thread("CGENERAL", message.ts)[1:]
    assert len(answers) == 1
    assert "access" in blocks_text(answers[0].blocks).lower()
    assert logged(app, question) == 1


def test_a_button_rating_while_the_database_is_away_tells_the_person(setup: Setup) -> None:
    app = setup.app
    answer = ask(app, "UERIN001", "sick leave policy")
    snippet = answer_rows(app, "CGENERAL", answer.ts)[0]
    responses = len(app.responses())
    with setup.outage.away():
        press(app, "UERIN001", answer, "rate_up", str(snippet))
        wait_for(lambda: app.responses()[responses:])
        settle(app)
    told_to_try_again(app, responses)
    assert not ratings_of(app, "UERIN001")
    press(app, "UERIN001", answer, "rate_up", str(snippet))
    wait_for(lambda: ratings_of(app, "UERIN001"))
    assert ratings_of(app, "UERIN001") == {snippet: 1}


@pytest.mark.parametrize("setup", ["postgresql"], indirect=True)
def test_a_server_restart_between_questions_goes_unnoticed(setup: Setup) -> None:
    """The pool still holds connections the restart cut; none may reach a request."""
    assert setup.outage.server is not None
    app = setup.app
    ask(app, "UCAROL01", "wifi printer")
    setup.outage.server.restart()
    in_channel, responses = len(posts(app, "CGENERAL")), len(app.responses())
    app.command(actor("UCAROL01"), "find monitoring and alerting")
    wait_for(lambda: len(posts(app, "CGENERAL")) > in_channel or app.responses()[responses:])
    settle(app)
    assert not app.responses()[responses:], app.responses()[responses:]
    assert "alert" in blocks_text(posts(app, "CGENERAL")[-1]["blocks"]).lower()
