"""Knowledge from a private channel reaches only that channel's current members: membership is
asked of Slack and cached briefly, so someone who leaves stops seeing it once the cache lapses,
and a Slack failure shows nothing private rather than guessing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.simulated_slack.payloads import Actor, event
from handlers.plumbing.membership import Membership
from indexer.ingest.loaders.files import load_tree
from models import create_db_engine
from tests.conftest import fresh_database
from tests.fake_slack import Reply
from tests.slack_app import TEAM, RunningApp, blocks_text, running_app, settle, wait_for

BOARD, EVE, CAROL = "UBOARD01", "UEVE0001", "UCAROL01"
CACHE_SECONDS = 1.0
SECRET_PAGE = """---
title: Board deck vault
visibility: channel:CBOARD01
---
The quarterly board deck password is kept in the finance vault under the QBR-2026 entry.
"""
QUESTION = "where is the quarterly board deck password kept?"


@pytest.fixture(scope="module")
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder: Any
) -> Iterator[RunningApp]:
    with fresh_database("sqlite", request, tmp_path_factory) as url:
        engine = create_db_engine(url)
        try:
            data = tmp_path_factory.mktemp("private")
            with running_app(engine, data, embedder) as running:
                ws = running.workspace
                for user in (BOARD, EVE, CAROL):
                    ws.add_user(user, user[1:].lower().rstrip("0123456789"))
                ws.add_channel("CGENERAL", "general", members=[BOARD, EVE, CAROL])
                ws.add_channel("CBOARD01", "board", is_private=True, members=[BOARD, EVE])
                page = data / "private" / "board.md"
                page.parent.mkdir()
                page.write_text(SECRET_PAGE, encoding="utf-8")
                running.services.home.ingestor.ingest(load_tree(page.parent))
                running.services.__dict__["membership"] = Membership(ttl=CACHE_SECONDS)
                yield running
        finally:
            engine.dispose()


def dm_answer(app: RunningApp, user: str, question: str = QUESTION) -> str:
    ws = app.workspace
    dm = ws.dm_channel(user)
    message = ws.post_user_message(dm, user, question)
    payload = {
        "type": "message",
        "channel_type": "im",
        "user": user,
        "text": question,
        "ts": message.ts,
        "channel": dm,
        "event_ts": message.ts,
    }
    assert app.send(event(TEAM, payload)).status == 200
    wait_for(lambda: ws.thread(dm, message.ts)[1:] or ws.messages(dm)[-1].user != user)
    settle(app)
    return blocks_text(ws.messages(dm)[-1].blocks)


def channel_answer(app: RunningApp, user: str) -> str:
    before = len(app.workspace.messages("CGENERAL"))
    app.command(Actor(TEAM, user, user.lower(), "CGENERAL"), f"find {QUESTION}")
    wait_for(lambda: len(app.workspace.messages("CGENERAL")) > before)
    settle(app)
    return blocks_text(app.workspace.messages("CGENERAL")[-1].blocks)


def test_members_see_it_in_their_dm_and_nobody_sees_it_in_a_public_channel(
    app: RunningApp,
) -> None:
    assert "Board deck vault" in dm_answer(app, BOARD)
    assert "Board deck vault" not in dm_answer(app, CAROL)
    assert "Board deck vault" not in channel_answer(app, BOARD)


def test_someone_who_leaves_loses_access_once_the_cache_lapses(app: RunningApp) -> None:
    assert "Board deck vault" in dm_answer(app, EVE)
    app.workspace.remove_member("CBOARD01", EVE)
    time.sleep(CACHE_SECONDS + 0.2)
    assert "Board deck vault" not in dm_answer(app, EVE)
    app.workspace.add_member("CBOARD01", EVE)
    time.sleep(CACHE_SECONDS + 0.2)
    assert "Board deck vault" in dm_answer(app, EVE), "rejoining restores it"


def test_when_slack_cannot_say_who_is_a_member_nothing_private_is_shown(
    app: RunningApp,
) -> None:
    working = app.slack.handler("users.conversations")
    assert working is not None
    app.slack.on("users.conversations", Reply(500, body={"ok": False, "error": "fatal_error"}))
    try:
        time.sleep(CACHE_SECONDS + 0.2)
        assert "Board deck vault" not in dm_answer(app, BOARD)
    finally:
        app.slack.on("users.conversations", working)
