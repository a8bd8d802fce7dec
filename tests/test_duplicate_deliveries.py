"""Two web processes behind Slack's HTTP delivery, sharing one database: the same event or
interaction delivered to both at once (Slack's retry landing on the other process, a double
click) has exactly one effect."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.services import Services
from bot.serving import http_server
from bot.simulated_slack.payloads import Actor, SlackRequest, block_action, command, event
from models import QueryLog, Rating, create_db_engine
from tests.conftest import fresh_database
from tests.slack_app import TEAM, RunningApp, running_app, settle, wait_for

PEOPLE = ["UALICE01", "UBOB0001"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def apps(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder: Any
) -> Iterator[tuple[RunningApp, RunningApp]]:
    with fresh_database(request.param, request, tmp_path_factory) as url:
        engine, other_engine = create_db_engine(url), create_db_engine(url)
        try:
            with running_app(engine, tmp_path_factory.mktemp("twice"), embedder) as first:
                for user in PEOPLE:
                    first.workspace.add_user(user, user[1:].lower().rstrip("0123456789"))
                first.workspace.add_channel("CGENERAL", "general", members=PEOPLE)
                services = Services(first.services.settings, other_engine)
                services.__dict__["embedder"] = embedder
                server = http_server(services, "127.0.0.1", 0)
                thread = threading.Thread(target=server.run, daemon=True)
                thread.start()
                url2 = f"http://127.0.0.1:{server.effective_port}"
                try:
                    yield first, RunningApp(url2, first.slack, first.workspace, services)
                finally:
                    services.stopping.set()
                    server.close()
                    thread.join(timeout=5)
        finally:
            engine.dispose()
            other_engine.dispose()


def to_both(apps: tuple[RunningApp, RunningApp], request: Callable[[], SlackRequest]) -> None:
    """The same delivery to both processes at the same moment."""
    delivery = request()
    statuses: list[int] = []
    threads = [
        threading.Thread(target=lambda a=app: statuses.append(a.send(delivery).status))
        for app in apps
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200, 200]


def count(app: RunningApp, model: Any) -> int:
    with app.services.home.sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_one_mention_delivered_to_both_processes_is_answered_once(
    apps: tuple[RunningApp, RunningApp],
) -> None:
    first = apps[0]
    message = first.workspace.post_user_message(
        "CGENERAL", "UALICE01", "<@ULEPTONBOT> how do I deploy to kubernetes?"
    )
    mention = {
        "type": "app_mention",
        "user": "UALICE01",
        "text": message.text,
        "ts": message.ts,
        "channel": "CGENERAL",
        "event_ts": message.ts,
    }
    questions = count(first, QueryLog)
    to_both(apps, lambda: event(TEAM, mention, event_id="EvTWICE1"))
    wait_for(lambda: first.workspace.thread("CGENERAL", message.ts)[1:])
    settle(first)
    assert len(first.workspace.thread("CGENERAL", message.ts)) == 2
    assert count(first, QueryLog) == questions + 1

    answer = first.workspace.thread("CGENERAL", message.ts)[1]
    reaction = {
        "type": "reaction_added",
        "user": "UBOB0001",
        "reaction": "+1",
        "item": {"type": "message", "channel": "CGENERAL", "ts": answer.ts},
        "item_user": "ULEPTONBOT",
        "event_ts": "1700000001.000100",
    }
    ratings = count(first, Rating)
    to_both(apps, lambda: event(TEAM, reaction, event_id="EvTWICE2"))
    wait_for(lambda: count(first, Rating) > ratings)
    settle(first)
    with first.services.home.sessions() as session:
        votes = session.scalars(select(Rating.value).where(Rating.user_id == "UBOB0001")).all()
    assert votes and set(votes) == {1}, "each snippet rated +1 once"


def test_more_results_clicked_into_both_processes_posts_one_page(
    apps: tuple[RunningApp, RunningApp],
) -> None:
    first = apps[0]
    before = len(first.workspace.messages("CGENERAL"))
    first.command(Actor(TEAM, "UALICE01", "alice", "CGENERAL"), "find deploy a release")
    wait_for(lambda: len(first.workspace.messages("CGENERAL")) > before)
    settle(first)
    answer = first.workspace.messages("CGENERAL")[-1]
    more = next(
        e
        for b in answer.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "more_results"
    )

    def click() -> SlackRequest:
        return block_action(
            Actor(TEAM, "UBOB0001", "bob", "CGENERAL"),
            {"action_id": "more_results", "block_id": "b", "value": more["value"]},
            {"type": "message", "message_ts": answer.ts, "channel_id": "CGENERAL"},
            first.workspace.response_url("CGENERAL", "UBOB0001", answer.ts),
        )

    to_both(apps, click)
    to_both(apps, click)  # and a double click
    wait_for(lambda: first.workspace.thread("CGENERAL", answer.ts)[1:])
    settle(first)
    assert len(first.workspace.thread("CGENERAL", answer.ts)) == 2, "one page, posted once"


def test_a_slash_command_delivered_twice_is_answered_once(
    apps: tuple[RunningApp, RunningApp],
) -> None:
    """The same signed `/lepton find` replayed, to both processes at once and then again to one:
    one answer, one logged question."""
    first = apps[0]
    alice = Actor(TEAM, "UALICE01", "alice", "CGENERAL")
    delivery = command(
        alice,
        "find rotate the on-call pager",
        first.workspace.response_url("CGENERAL", "UALICE01"),
        first.workspace.trigger_id("UALICE01"),
    )
    before, asked = len(first.workspace.messages("CGENERAL")), count(first, QueryLog)
    to_both(apps, lambda: delivery)
    assert first.send(delivery).status == 200
    wait_for(lambda: len(first.workspace.messages("CGENERAL")) > before)
    settle(first)
    assert len(first.workspace.messages("CGENERAL")) == before + 1, "answered once"
    assert count(first, QueryLog) == asked + 1
