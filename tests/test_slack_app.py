"""The Slack app over real HTTP: every command, event, action, shortcut, view and the App Home,
signed as Slack signs them, answered through a simulated Slack Web API."""

from __future__ import annotations

import json
import re
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
from sqlalchemy import func, select

from bot.services import FEEDBACK_FILE
from bot.simulated_slack.payloads import (
    Actor,
    SlackRequest,
    block_action,
    command,
    event,
    message_shortcut,
    view_submission,
)
from handlers.knowledge.modals import add_modal
from indexer.ingest.documents import LoadResult, Section, SourceDocument
from models import Answer, AnswerSnippet, AuditLog, Document, QueryLog, Rating, create_db_engine
from tests.conftest import fresh_database
from tests.fake_slack import Reply
from tests.slack_app import (
    ADMIN,
    SECRET,
    TEAM,
    RunningApp,
    blocks_text,
    running_app,
    settle,
    wait_for,
)

ALICE = Actor(TEAM, "UALICE01", "alice", "CGENERAL")


@pytest.fixture(scope="module")
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder: Any
) -> Iterator[RunningApp]:
    with fresh_database("sqlite", request, tmp_path_factory) as url:
        engine = create_db_engine(url)
        try:
            with running_app(engine, tmp_path_factory.mktemp("app"), embedder) as running:
                ws = running.workspace
                people = ["UALICE01", "UBOB0001", "UCAROL01", "UDAVE001", "UERIN001", ADMIN]
                for user in people:
                    ws.add_user(user, user[1:].lower().rstrip("0123456789"))
                ws.add_channel("CGENERAL", "general", members=people)
                ws.add_channel("CRANDOM", "random", members=people, bot_member=False)
                ws.add_channel("CSECRET", "secret", is_private=True, members=["UALICE01"])
                yield running
        finally:
            engine.dispose()


def actor(user: str, channel: str = "CGENERAL") -> Actor:
    return Actor(TEAM, user, user.lower(), channel)


def posts(app: RunningApp, channel: str | None = None) -> list[dict[str, Any]]:
    calls = app.slack.calls_to("chat.postMessage")
    return [c for c in calls if channel is None or c.get("channel") == channel]


def answer_rows(app: RunningApp, channel: str, ts: str) -> list[int]:
    with app.services.home.sessions() as session:
        answer = session.scalar(
            select(Answer).where(Answer.channel_id == channel, Answer.message_ts == ts)
        )
        assert answer is not None, "the posted answer was not recorded"
        return list(
            session.scalars(
                select(AnswerSnippet.snippet_id)
                .where(AnswerSnippet.answer_id == answer.id)
                .order_by(AnswerSnippet.rank)
            )
        )


def latest_answer(app: RunningApp, channel: str) -> Any:
    return app.workspace.messages(channel)[-1]


def test_find_acks_at_once_then_posts_a_recorded_answer_in_the_channel(app: RunningApp) -> None:
    before = len(posts(app, "CGENERAL"))
    reply = app.command(actor("UALICE01"), "find tensorflow 2.0")
    assert reply.status == 200
    wait_for(lambda: len(posts(app, "CGENERAL")) > before)
    settle(app)
    message = latest_answer(app, "CGENERAL")
    text = blocks_text(message.blocks)
    assert "TensorFlow" in text
    assert "<@UALICE01> asked" in text
    actions = [
        e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]
    ]
    assert {"rate_up", "rate_down", "why_these"} <= set(actions)
    shown = answer_rows(app, "CGENERAL", message.ts)
    assert shown, "the answer records the snippets it showed"


def test_bare_query_is_shorthand_for_find(app: RunningApp) -> None:
    before = len(posts(app, "CGENERAL"))
    app.command(actor("UBOB0001"), "kubernetes deploy rollback")
    wait_for(lambda: len(posts(app, "CGENERAL")) > before)
    assert "Kubernetes" in blocks_text(latest_answer(app, "CGENERAL").blocks)


def test_channel_without_the_bot_gets_the_answer_by_dm_and_a_pointer(app: RunningApp) -> None:
    responses = len(app.responses())
    app.command(actor("UCAROL01", "CRANDOM"), "find wifi printer")
    dm = app.workspace.dm_channel("UCAROL01")
    wait_for(lambda: app.workspace.messages(dm))
    settle(app)
    assert "printer" in blocks_text(app.workspace.messages(dm)[-1].blocks).lower()
    assert not app.workspace.messages("CRANDOM")
    pointer = app.responses()[responses:]
    assert any("sent the answer to our DM" in r.get("text", "") for r in pointer)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Lepton* answers"),
        ("help", "Lepton* answers"),
        ("hepl", "Did you mean `help`?"),
        ("fnid tensorflow 2.0", "Did you mean `/lepton find tensorflow 2.0`?"),
        ("find", "What should I look for?"),
        ("find    ", "What should I look for?"),
    ],
)
def test_help_and_empty_queries_answer_in_the_ack(
    app: RunningApp, text: str, expected: str
) -> None:
    before = len(posts(app))
    with app.services.home.sessions() as session:
        asked = session.scalar(select(func.count()).select_from(QueryLog))
    reply = app.command(actor("UDAVE001"), text)
    assert reply.status == 200
    body = json.loads(reply.body)
    assert body["response_type"] == "ephemeral"
    assert expected in blocks_text(body["blocks"])
    time.sleep(0.3)
    assert len(posts(app)) == before
    with app.services.home.sessions() as session:
        assert session.scalar(select(func.count()).select_from(QueryLog)) == asked, (
            "nothing was searched, so nothing can become a knowledge gap"
        )


def test_a_quoted_title_nothing_contains_does_not_empty_the_answer(app: RunningApp) -> None:
    """A quote in a question is as often a name as a must-match phrase."""
    before = len(posts(app, "CGENERAL"))
    query = 'migrating our side-scrolling game named "Abe\'s Amazing Adventure" to tensorflow 2'
    app.command(actor("UDAVE001"), f"find {query}")
    wait_for(lambda: len(posts(app, "CGENERAL")) > before)
    text = blocks_text(latest_answer(app, "CGENERAL").blocks)
    assert "word for word" in text and "Abe" in text
    assert "TensorFlow" in text, text


def test_a_very_long_query_is_cut_with_a_notice(app: RunningApp) -> None:
    responses = len(app.responses())
    before = len(posts(app, "CGENERAL"))
    app.command(actor("UDAVE001"), "find " + "how do I migrate tensorflow code " * 40)
    wait_for(lambda: len(posts(app, "CGENERAL")) > before)
    settle(app)
    notices = [r.get("text", "") for r in app.responses()[responses:]]
    assert any("first 2" in n or "characters" in n for n in notices)
    with app.services.home.sessions() as session:
        logged = session.scalars(select(QueryLog.query).order_by(QueryLog.id.desc())).first()
    assert logged is not None and len(logged) <= 300


def test_admin_commands_refuse_non_admins_and_audit_admins(app: RunningApp) -> None:
    responses = len(app.responses())
    app.command(actor("UERIN001"), "stats")
    wait_for(lambda: len(app.responses()) > responses)
    assert "for Lepton admins" in app.responses()[-1]["text"]
    app.command(actor("UERIN001"), "find how do I expense a unicorn costume rental")
    dm = app.workspace.dm_channel("UERIN001")
    private = app.workspace.post_user_message(dm, "UERIN001", "my platypus allergy sick note")
    app.send(event(TEAM, {**direct(private.text, private.ts, dm), "user": "UERIN001"}))
    settle(app)
    responses = len(app.responses())
    app.command(actor(ADMIN), "stats")
    app.command(actor(ADMIN), "gaps")
    wait_for(lambda: len(app.responses()) >= responses + 2)
    settle(app)
    texts = [blocks_text(r.get("blocks", [])) for r in app.responses()[responses:]]
    assert any("*Questions:*" in t for t in texts)
    assert any("unicorn" in t for t in texts), "the unanswered question shows as a gap"
    assert not any("platypus" in t for t in texts), "a question asked in a DM is never quoted"
    with app.services.home.sessions() as session:
        actions = set(session.scalars(select(AuditLog.action).where(AuditLog.actor == ADMIN)))
    assert {"stats.view", "gaps.view"} <= actions


def forgeries(app: RunningApp) -> dict[str, SlackRequest]:
    """One request of every kind Slack sends to /slack/events, each enough to change something."""
    who = actor("UALICE01")
    message = {"type": "message", "user": "UALICE01", "ts": "1700000000.000200", "text": "x"}
    mention = mention_event("UALICE01", "<@ULEPTONBOT> tensorflow", "1700000000.000300")
    return {
        "command": command(who, "find tensorflow", app.slack.response_url("forged")),
        "event": event(TEAM, mention),
        "button": block_action(
            who,
            {"action_id": "rate_up", "value": "1"},
            {"type": "message", "channel_id": "CGENERAL", "message_ts": "1700000000.000100"},
            app.slack.response_url("forged"),
        ),
        "shortcut": message_shortcut(
            who, "save_to_lepton", message, app.slack.response_url("forged"), "1.1.t"
        ),
        "view": view_submission(
            who,
            add_modal(),
            {"title": "Forged", "text": "forged knowledge", "tags": ""},
        ),
    }


def counts(app: RunningApp) -> tuple[int, ...]:
    with app.services.home.sessions() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (QueryLog, Rating, Document, AuditLog)
        )


@pytest.mark.parametrize("kind", ["command", "event", "button", "shortcut", "view"])
@pytest.mark.parametrize(
    "forgery", ["wrong secret", "6 min old", "6 min ahead", "unsigned", "body changed"]
)
def test_every_kind_of_request_must_be_signed_and_fresh(
    app: RunningApp, kind: str, forgery: str
) -> None:
    request = forgeries(app)[kind]
    headers = request.headers(SECRET)
    if forgery == "wrong secret":
        headers = request.headers("not-the-secret")
    elif forgery == "6 min old":
        headers = request.headers(SECRET, int(time.time()) - 6 * 60)
    elif forgery == "6 min ahead":
        headers = request.headers(SECRET, int(time.time()) + 6 * 60)
    elif forgery == "unsigned":
        headers = {k: v for k, v in headers.items() if not k.startswith("X-Slack")}
    body = request.body
    if forgery == "body changed":
        body = body.replace("UALICE01", "UMALLORY")
    calls, before = len(app.slack.calls), counts(app)
    http = urllib.request.Request(
        app.url + "/slack/events", data=body.encode(), headers=headers, method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(http, timeout=10)
    assert refused.value.code == 401
    time.sleep(0.3)
    assert len(app.slack.calls) == calls, "a forged request reached Slack"
    assert counts(app) == before, "a forged request changed the database"


def direct(text: str, ts: str, channel: str) -> dict[str, Any]:
    """A `message.im` event: someone writes to Lepton in their DM."""
    return {
        "type": "message",
        "channel_type": "im",
        "user": "UDAVE001",
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }


def raw_post(app: RunningApp, headers: dict[str, str], sent: bytes = b"") -> str:
    """A POST whose headers promise a body (Content-Length) that is never sent: the status line
    the server answers with while that body is still missing, or "" if it waits for it."""
    host, port = urlsplit(app.url).hostname, urlsplit(app.url).port
    lines = ["POST /slack/events HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + sent)
        try:
            return conn.recv(200).decode(errors="replace").split("\r\n")[0]
        except TimeoutError:
            return ""


@pytest.mark.parametrize("signed_now", [False, True])
def test_a_200_mb_body_is_refused_from_its_headers_without_being_read(
    app: RunningApp, signed_now: bool
) -> None:
    """Nothing of a huge body is read, signed or not: 413 straight from Content-Length, and the
    app keeps answering."""
    stamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "Content-Length": str(200 * 1024 * 1024)}
    if signed_now:
        headers |= {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + "0" * 64}
    assert raw_post(app, headers, b"{") == "HTTP/1.1 413 Request Entity Too Large"
    assert app.get("/healthz").status == 200


def test_an_unsigned_garbled_request_is_refused_as_unsigned(app: RunningApp) -> None:
    http = urllib.request.Request(
        app.url + "/slack/events",
        data=b'{"type": "event_callback", "event": [',
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(http, timeout=10)
    assert refused.value.code == 401


def test_the_same_requests_signed_properly_are_accepted(app: RunningApp) -> None:
    for kind, request in forgeries(app).items():
        assert app.send(request).status == 200, kind
    settle(app)


def test_health_check_and_unknown_paths(app: RunningApp) -> None:
    assert app.get("/healthz").status == 200
    assert app.get("/nope").status == 404


def mention_event(user: str, text: str, ts: str, channel: str = "CGENERAL") -> dict[str, Any]:
    return {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }


def test_mention_answers_in_the_thread_and_a_retry_changes_nothing(app: RunningApp) -> None:
    message = app.workspace.post_user_message(
        "CGENERAL", "UBOB0001", "<@ULEPTONBOT> how do I request access to production?"
    )
    payload = mention_event("UBOB0001", message.text, message.ts)
    first = event(TEAM, payload, event_id="EvMENTION1")
    assert app.send(first).status == 200
    wait_for(lambda: app.workspace.thread("CGENERAL", message.ts)[1:])
    retry = event(TEAM, payload, event_id="EvMENTION1", retry=1)
    assert app.send(retry).status == 200
    settle(app)
    replies = app.workspace.thread("CGENERAL", message.ts)[1:]
    assert len(replies) == 1
    assert "access" in blocks_text(replies[0].blocks).lower()


def test_a_dm_is_answered_in_the_dm(app: RunningApp) -> None:
    dm = app.workspace.dm_channel("UDAVE001")
    message = app.workspace.post_user_message(dm, "UDAVE001", "how many sick days do I get?")
    payload = {
        "type": "message",
        "channel_type": "im",
        "user": "UDAVE001",
        "text": message.text,
        "ts": message.ts,
        "channel": dm,
        "event_ts": message.ts,
    }
    app.send(event(TEAM, payload))
    wait_for(lambda: [m for m in app.workspace.messages(dm) if m.user == "ULEPTONBOT"])
    settle(app)
    answer = [m for m in app.workspace.messages(dm) if m.user == "ULEPTONBOT"][-1]
    assert "sick" in blocks_text(answer.blocks).lower()
    assert answer.thread_ts is None


def ask(app: RunningApp, user: str, query: str) -> Any:
    before = len(posts(app, "CGENERAL"))
    app.command(actor(user), f"find {query}")
    wait_for(lambda: len(posts(app, "CGENERAL")) > before)
    settle(app)
    return latest_answer(app, "CGENERAL")


def ratings_of(app: RunningApp, user: str) -> dict[int, int]:
    with app.services.home.sessions() as session:
        return dict(
            session.execute(
                select(Rating.snippet_id, Rating.value).where(Rating.user_id == user)
            ).all()
        )


def reaction(kind: str, user: str, name: str, channel: str, ts: str) -> dict[str, Any]:
    return {
        "type": kind,
        "user": user,
        "reaction": name,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "item_user": "ULEPTONBOT",
        "event_ts": f"{time.time():.6f}",
    }


def quoted_ranks(message: Any) -> set[int]:
    """The results the answer line quotes, as a reader sees them: "(2. <link>)" after a quote."""
    line = next(
        b["text"]["text"]
        for b in message.blocks
        if b["type"] == "section" and b["text"]["text"].startswith(">")
    )
    return {int(n) for n in re.findall(r"_— (\d+)\. ", line)}


def test_a_reaction_rates_what_the_answer_line_quoted_and_removing_undoes(
    app: RunningApp,
) -> None:
    answer = ask(app, "UCAROL01", "can new services use python 3.12")
    shown = answer_rows(app, "CGENERAL", answer.ts)
    quoted = {shown[rank - 1] for rank in quoted_ranks(answer)}
    assert quoted and len(quoted) < len(shown), "the answer line quotes the result that answers"
    app.workspace.add_reaction("CGENERAL", answer.ts, "UERIN001", "+1::skin-tone-3")
    added = event(
        TEAM, reaction("reaction_added", "UERIN001", "+1::skin-tone-3", "CGENERAL", answer.ts)
    )
    app.send(added)
    wait_for(lambda: bool(ratings_of(app, "UERIN001")))
    settle(app)
    assert ratings_of(app, "UERIN001") == dict.fromkeys(quoted, 1), (
        "a reaction rates what the person read as the answer, not every source under it"
    )
    app.send(
        event(
            TEAM,
            json.loads(added.body)["event"],
            event_id=json.loads(added.body)["event_id"],
            retry=1,
        )
    )
    app.workspace.remove_reaction("CGENERAL", answer.ts, "UERIN001", "+1::skin-tone-3")
    app.send(
        event(
            TEAM, reaction("reaction_removed", "UERIN001", "+1::skin-tone-3", "CGENERAL", answer.ts)
        )
    )
    wait_for(lambda: not ratings_of(app, "UERIN001"))
    other = app.workspace.post_user_message("CGENERAL", "UBOB0001", "lunch?")
    app.send(event(TEAM, reaction("reaction_added", "UERIN001", "+1", "CGENERAL", other.ts)))
    app.send(event(TEAM, reaction("reaction_added", "UERIN001", "eyes", "CGENERAL", answer.ts)))
    settle(app)
    assert not ratings_of(app, "UERIN001")


def press(
    app: RunningApp, user: str, message: Any, action_id: str, value: str | None = None
) -> None:
    button = next(
        e
        for b in message.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id and (value is None or e["value"] == value)
    )
    app.send(
        block_action(
            actor(user),
            {"action_id": action_id, "block_id": "b", "value": button["value"]},
            {"type": "message", "message_ts": message.ts, "channel_id": "CGENERAL"},
            app.workspace.response_url("CGENERAL", user, message.ts),
            trigger_id=app.workspace.trigger_id(user),
        )
    )


def test_buttons_rate_page_and_explain(app: RunningApp) -> None:
    answer = ask(app, "UDAVE001", "deploying")
    first_snippet = answer_rows(app, "CGENERAL", answer.ts)[0]
    responses = len(app.responses())
    press(app, "UDAVE001", answer, "rate_down", str(first_snippet))
    wait_for(lambda: ratings_of(app, "UDAVE001").get(first_snippet) == -1)
    press(app, "UDAVE001", answer, "why_these")
    wait_for(lambda: any("score" in r.get("text", "") for r in app.responses()[responses:]))
    texts = [r.get("text", "") for r in app.responses()[responses:]]
    assert any("not helpful" in t for t in texts)
    assert any("meaning" in t and "people like you" in t for t in texts)


def test_more_results_posts_the_next_page_in_the_thread(app: RunningApp) -> None:
    answer = ask(app, "UBOB0001", "how do we deploy a release to production")
    first_page = answer_rows(app, "CGENERAL", answer.ts)
    press(app, "UCAROL01", answer, "more_results")
    wait_for(lambda: app.workspace.thread("CGENERAL", answer.ts)[1:])
    settle(app)
    page = app.workspace.thread("CGENERAL", answer.ts)[-1]
    assert "*6.*" in blocks_text(page.blocks)
    second_page = answer_rows(app, "CGENERAL", page.ts)
    assert second_page and not set(second_page) & set(first_page)


def test_add_modal_saves_a_snippet_and_who_finds_its_author(app: RunningApp) -> None:
    reply = app.command(actor("UBOB0001"), "add")
    assert reply.status == 200
    wait_for(lambda: app.workspace.modals("UBOB0001"))
    modal = app.workspace.modals("UBOB0001")[-1]
    bad = app.send(view_submission(actor("UBOB0001"), modal.view, {"title": "", "text": "short"}))
    assert json.loads(bad.body)["response_action"] == "errors"
    good = app.send(
        view_submission(
            actor("UBOB0001"),
            modal.view,
            {
                "title": "Rotating the staging database password",
                "text": "Run vault rotate staging-db, then restart the api pods so they pick "
                "up the new secret. Announce it in #ops first.",
                "tags": "vault, staging",
            },
        )
    )
    assert good.status == 200
    dm = app.workspace.dm_channel("UBOB0001")
    wait_for(lambda: any("Saved to Lepton" in m.text for m in app.workspace.messages(dm)))
    with app.services.home.sessions() as session:
        doc = session.scalar(select(Document).where(Document.title.like("Rotating the staging%")))
        assert doc is not None and doc.author_user_id == "UBOB0001"
    responses = len(app.responses())
    app.command(actor("UCAROL01"), "who rotating staging database password")
    wait_for(lambda: len(app.responses()) > responses)
    assert "<@UBOB0001>" in blocks_text(app.responses()[-1]["blocks"])


def test_save_shortcut_keeps_private_channel_snippets_private(app: RunningApp) -> None:
    secret = app.workspace.post_user_message(
        "CSECRET",
        "UALICE01",
        "The quarterly board deck password is kept in the finance vault under QBR-2026.",
    )
    shortcut = message_shortcut(
        actor("UALICE01", "CSECRET"),
        "save_to_lepton",
        {"type": "message", "user": "UALICE01", "ts": secret.ts, "text": secret.text},
        app.workspace.response_url("CSECRET", "UALICE01"),
        app.workspace.trigger_id("UALICE01"),
    )
    app.send(shortcut)
    wait_for(lambda: app.workspace.modals("UALICE01"))
    modal = app.workspace.modals("UALICE01")[-1]
    assert "quarterly board deck" in json.dumps(modal.view)
    app.send(
        view_submission(
            actor("UALICE01", "CSECRET"),
            modal.view,
            {"title": "Board deck password location", "text": secret.text, "tags": "finance"},
        )
    )
    wait_for(lambda: _document(app, "Board deck password location"))
    doc = _document(app, "Board deck password location")
    assert doc.visibility == "channel" and doc.channel_id == "CSECRET"
    assert doc.saved_by_user_id == "UALICE01"
    assert doc.url and doc.url.startswith("https://")
    answer = ask(app, "UBOB0001", "where is the board deck password kept")
    assert "Board deck" not in blocks_text(answer.blocks)


def save(app: RunningApp, saver: str, message: Any, title: str, text: str) -> None:
    """`saver` uses Save to Lepton on `message` in #general and submits `title` and `text`."""
    shortcut = message_shortcut(
        actor(saver),
        "save_to_lepton",
        {"type": "message", "user": message.user, "ts": message.ts, "text": message.text},
        app.workspace.response_url("CGENERAL", saver),
        app.workspace.trigger_id(saver),
    )
    modals = len(app.workspace.modals(saver))
    app.send(shortcut)
    wait_for(lambda: len(app.workspace.modals(saver)) > modals)
    modal = app.workspace.modals(saver)[-1]
    app.send(view_submission(actor(saver), modal.view, {"title": title, "text": text, "tags": ""}))
    settle(app)


def test_a_saved_message_is_credited_to_its_author_only_as_written(app: RunningApp) -> None:
    """Carol saves Bob's message but rewrites it: the snippet is hers, not Bob's. Dave saving
    the same message later cannot replace her snippet."""
    original = app.workspace.post_user_message(
        "CGENERAL", "UBOB0001", "Staging deploys need two approvals from the platform team."
    )
    rewritten = "Staging deploys need no approval at all; just push to main."
    save(app, "UCAROL01", original, "Staging deploy approvals", rewritten)
    doc = _document(app, "Staging deploy approvals")
    assert doc is not None and doc.saved_by_user_id == "UCAROL01"
    assert doc.author_user_id == "UCAROL01", "a rewrite is never credited to Bob"
    save(app, "UDAVE001", original, "Staging deploy approvals v2", original.text)
    assert _document(app, "Staging deploy approvals v2") is None
    again = _document(app, "Staging deploy approvals")
    assert again is not None and again.saved_by_user_id == "UCAROL01"
    dm = app.workspace.dm_channel("UDAVE001")
    assert any("saved by <@UCAROL01>" in m.text for m in app.workspace.messages(dm))
    kept = app.workspace.post_user_message(
        "CGENERAL", "UBOB0001", "Prod deploys freeze on Fridays after 15:00."
    )
    save(app, "UERIN001", kept, "Friday deploy freeze", kept.text)
    credited = _document(app, "Friday deploy freeze")
    assert credited is not None and credited.author_user_id == "UBOB0001", "as written: Bob's"


def _document(app: RunningApp, title: str) -> Document | None:
    with app.services.home.sessions() as session:
        return session.scalar(select(Document).where(Document.title == title))


def test_app_home_shows_recent_searches_and_slots(app: RunningApp) -> None:
    ask(app, "UERIN001", "printer on the third floor")
    app.send(
        event(
            TEAM, {"type": "app_home_opened", "user": "UERIN001", "tab": "home", "event_ts": "1.1"}
        )
    )
    wait_for(lambda: app.workspace.home("UERIN001"))
    home = blocks_text(app.workspace.home("UERIN001").view["blocks"])
    assert "printer on the third floor" in home
    assert "Recommended for you" in home and "Your training" in home


def test_forget_me_confirms_then_deletes(app: RunningApp) -> None:
    answer = ask(app, "UCAROL01", "sick leave policy")
    press(app, "UCAROL01", answer, "rate_up", str(answer_rows(app, "CGENERAL", answer.ts)[0]))
    wait_for(lambda: ratings_of(app, "UCAROL01"))
    app.services.home.feedback.refresh(force=True)
    assert "UCAROL01" in saved_fit_strings(app), "her taste is in the saved fit"
    responses = len(app.responses())
    app.command(actor("UCAROL01"), "forget-me")
    # The rating's own "thanks" may still be on its way: the confirmation is the one with blocks.
    wait_for(lambda: any("blocks" in r for r in app.responses()[responses:]))
    confirm = next(r for r in app.responses()[responses:] if "blocks" in r)
    assert "Delete my data" in blocks_text(confirm["blocks"])
    assert ratings_of(app, "UCAROL01"), "nothing is deleted before the confirmation"
    app.send(
        block_action(
            actor("UCAROL01"),
            {"action_id": "forget_me_confirm", "block_id": "b", "value": "UCAROL01"},
            {
                "type": "message",
                "message_ts": "1.2",
                "channel_id": "CGENERAL",
                "is_ephemeral": True,
            },
            app.workspace.response_url("CGENERAL", "UCAROL01"),
        )
    )
    wait_for(lambda: any("Done" in r.get("text", "") for r in app.responses()[responses:]))
    assert not ratings_of(app, "UCAROL01")
    with app.services.home.sessions() as session:
        assert not session.scalar(
            select(func.count()).select_from(QueryLog).where(QueryLog.user_id == "UCAROL01")
        )
    assert "UCAROL01" not in saved_fit_strings(app), "the saved fit still knows her"


def saved_fit_strings(app: RunningApp) -> set[str]:
    """Every string in the collaborative-filtering fit saved beside the index."""
    path = app.services.home.data_dir / FEEDBACK_FILE
    with np.load(path, allow_pickle=False) as saved:
        return {str(v) for k in saved.files if saved[k].dtype.kind == "U" for v in saved[k].ravel()}


def test_nothing_from_users_or_documents_can_ping_or_link(app: RunningApp) -> None:
    answer = ask(app, "UDAVE001", "<!channel> @here <http://evil.example|tensorflow> <@UBOB0001>")
    text = blocks_text(answer.blocks)
    for forbidden in ("<!channel>", "<!here>", "<http://evil", "<@UBOB0001>"):
        assert forbidden not in text


def test_an_internal_failure_gets_an_apology_with_a_reference(app: RunningApp) -> None:
    app.slack.on("users.info", Reply(500, body={"ok": False, "error": "internal_error"}))
    try:
        responses = len(app.responses())
        app.command(actor("UDAVE001"), "stats")  # is UDAVE001 an admin? Slack cannot say
        wait_for(lambda: len(app.responses()) > responses, timeout=60)
        text = app.responses()[-1]["text"]
        assert "Sorry, something went wrong" in text and "reference `" in text
        assert "Traceback" not in text
    finally:
        app.workspace.install(app.slack)


def test_who_names_page_owners_as_people_when_they_are_in_the_workspace(
    app: RunningApp,
) -> None:
    """Front matter says who owns a page: a team stays a name, a person becomes a mention."""
    page = SourceDocument(
        source="notes/quokka-enclosure.md",
        source_type="file",
        title="Quokka enclosure feeding schedule",
        sections=[
            Section(
                ("Feeding",),
                "The office quokkas are fed leafy greens at 08:00 and 16:00 by the rota.",
            )
        ],
        owner="  ERIN ",  # the workspace's erin, whatever the case and spacing
    )
    app.services.home.ingestor.ingest(LoadResult(documents=[page]))

    def who(topic: str) -> str:
        responses = len(app.responses())
        app.command(actor("UCAROL01"), f"who {topic}")
        wait_for(lambda: len(app.responses()) > responses)
        return blocks_text(app.responses()[-1]["blocks"])

    assert "<@UERIN001>" in who("quokka enclosure feeding schedule")
    assert "*Platform Team* owns" in who("deploying a service to kubernetes")
