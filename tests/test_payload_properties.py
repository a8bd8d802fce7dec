"""Whatever arrives at /slack/events with a valid signature (random, truncated, oversized,
wrongly typed), Lepton never answers Slack with a 5xx, never logs an unhandled error, keeps
answering questions, and tells the person something readable where it can.

Each request starts from the real shape `bot/simulated_slack/payloads.py` builds for one of
the app's surfaces, aimed at real state (a recorded answer, an open survey round, a training
assignment) so that it reaches deep into the handlers, and is then mutated: keys dropped,
values replaced by the wrong type, the body truncated or given bytes that are not UTF-8.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.simulated_slack.payloads import (
    FORM,
    JSON,
    Actor,
    SlackRequest,
    block_action,
    command,
    event,
    message_shortcut,
    signature,
    view_submission,
)
from handlers.knowledge.blocks import MORE_RESULTS, RATE_DOWN, RATE_UP, WHY_THESE
from handlers.knowledge.buttons import FORGET_CANCEL, FORGET_CONFIRM
from handlers.knowledge.modals import ADD_CALLBACK, SAVE_CALLBACK, add_modal, save_modal
from handlers.knowledge.saving import SAVE_SHORTCUT
from handlers.surveys.blocks import COMMENT_BLOCK, COMMENT_CALLBACK
from handlers.training.blocks import DONE, ENROL, OPEN, SNOOZE
from models import create_db_engine
from people.training.catalog import import_catalog
from tests.slack_app import (
    ADMIN,
    SECRET,
    TEAM,
    Response,
    RunningApp,
    blocks_text,
    running_app,
    wait_for,
)
from tests.test_survey_slack import SURVEY_FILE, invitation, open_round, round_start

ALICE, BOB = "UALICE01", "UBOB0001"
GENERAL = "CGENERAL"
CATALOG = Path(__file__).resolve().parent.parent / "examples" / "training.yml"
PROPERTY = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
UNHELPFUL = ("Traceback", "Sorry, something went wrong")


# The running app and what it logs


class Problems(logging.Handler):
    """Every ERROR (or worse) any logger in the process emits: an unhandled failure in a
    listener, in Bolt's dispatch, or in waitress serving the request."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def since(self, start: int) -> list[str]:
        return [
            f"{r.name}: {r.getMessage()}\n"
            + ("".join(traceback.format_exception(*r.exc_info)) if r.exc_info else "")
            for r in self.records[start:]
        ]


@dataclass
class Seeded:
    """The app, and real things in it for payloads to point at."""

    app: RunningApp
    problems: Problems
    answer_ts: str
    snippet_ids: list[int]
    survey_buttons: list[dict[str, Any]]
    survey_ts: str
    survey_dm: str
    assignment_id: int
    modules: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[Seeded]:
    directory = tmp_path_factory.mktemp("payloads")
    surveys = directory / "surveys.yml"
    surveys.write_text(SURVEY_FILE, encoding="utf-8")
    engine = create_db_engine(f"sqlite:///{directory / 'lepton.db'}")
    problems = Problems()
    root = logging.getLogger()
    try:
        with running_app(engine, directory / "data", embedder, lepton_surveys=surveys) as app:
            ws = app.workspace
            for user in (ALICE, BOB):
                ws.add_user(user, user[1:].lower().rstrip("0123456789"), tz="UTC")
            ws.add_user(ADMIN, "admin", tz="UTC")
            ws.add_channel(GENERAL, "general", members=[ALICE, BOB, ADMIN])
            import_catalog(app.services.home.sessions, CATALOG)
            modules = [m.key for m in app.services.home.training.modules()]
            app.services.home.training.join(ALICE, modules[0], round_start())
            assignment = app.services.home.training.progress(ALICE, round_start())[0].assignment_id
            open_round(app, round_start())
            survey = invitation(app, ALICE)
            buttons = [e for b in survey.blocks if b["type"] == "actions" for e in b["elements"]]
            assert (
                app.command(Actor(TEAM, ALICE, "alice", GENERAL), "find tensorflow").status == 200
            )
            answer = wait_for(lambda: [m for m in ws.messages(GENERAL) if m.blocks])[-1]
            quiet()
            snippets = [
                int(e["value"])
                for b in answer.blocks
                if b["type"] == "actions"
                for e in b["elements"]
                if e["action_id"] == RATE_UP
            ]
            assert snippets, "the seeded answer has rating buttons"
            root.addHandler(problems)
            yield Seeded(
                app,
                problems,
                answer.ts,
                snippets,
                buttons,
                survey.ts,
                survey.channel,
                assignment,
                modules,
            )
    finally:
        root.removeHandler(problems)
        engine.dispose()


def quiet(polls: int = 5) -> None:
    """Wait until every Bolt listener thread has been idle for `polls` checks in a row, so a
    failure a request causes after its ack is logged before the next request is sent."""
    idle = 0
    deadline = time.monotonic() + 60
    while idle < polls:
        if time.monotonic() > deadline:
            raise AssertionError("the app's listeners never went idle")
        frames = sys._current_frames()
        busy = any(
            thread_name.startswith("lepton-listener") and not _idle(frames.get(ident))
            for ident, thread_name in _threads()
        )
        idle = 0 if busy else idle + 1
        time.sleep(0.01)


def _threads() -> list[tuple[int, str]]:
    return [(t.ident or 0, t.name) for t in threading.enumerate()]


def _idle(frame: Any) -> bool:
    """A pool thread waiting for work sits in `_worker` itself (the queue's get is C code)."""
    return frame is None or (
        frame.f_code.co_name == "_worker"
        and frame.f_code.co_filename.endswith("concurrent/futures/thread.py")
    )


def post(app: RunningApp, body: bytes, content_type: str) -> Response:
    """POST raw bytes to the app, signed as Slack signs them (the signature covers the bytes)."""
    stamp = str(int(time.time()))
    http = urllib.request.Request(
        app.url + "/slack/events",
        data=body,
        headers={
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature(SECRET, stamp, body),
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(http, timeout=30) as reply:
            return Response(reply.status, reply.read().decode(errors="replace"), {})
    except urllib.error.HTTPError as error:
        return Response(error.code, error.read().decode(errors="replace"), {})


# Strategies


def _surrogate_free(codepoint_max: int = 0x10FFFF) -> st.SearchStrategy[str]:
    return st.characters(max_codepoint=codepoint_max, blacklist_categories=("Cs",))


CONTROL = st.text(st.characters(max_codepoint=0x1F), min_size=1, max_size=20)
ODD_TEXT = st.one_of(
    st.text(_surrogate_free(), max_size=60),
    CONTROL,
    st.sampled_from(["", " ", "\u200b", "<!channel>", "<@U0>", "&lt;", "'; DROP TABLE x;--"]),
)
HUGE = st.builds(lambda char, size: char * size, _surrogate_free(), st.integers(3_000, 60_000))
TEXT = st.one_of(ODD_TEXT, HUGE)
WRONG = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.lists(st.one_of(st.integers(), st.text(max_size=5)), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    TEXT,
)
NOT_UTF8 = st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80\x80", b"\xfe\xff\x00"])

Path_ = tuple[Any, ...]


def _paths(node: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every key (or index) in a JSON value, deepest last."""
    if isinstance(node, dict):
        items: Any = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return []
    found: list[Path_] = []
    for key, value in items:
        found.append((*prefix, key))
        found.extend(_paths(value, (*prefix, key)))
    return found


def _parent(tree: Any, path: Path_) -> Any:
    for key in path[:-1]:
        tree = tree[key]
    return tree


def mutate(data: st.DataObject, tree: Any, values: st.SearchStrategy[Any] = WRONG) -> Any:
    """Up to four changes: a key dropped, or a value replaced by `values`."""
    for _ in range(data.draw(st.integers(0, 4), label="changes")):
        paths = _paths(tree)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="where")
        parent = _parent(tree, path)
        if data.draw(st.booleans(), label="drop"):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(values, label="value")
    return tree


def position(data: st.DataObject, length: int) -> int:
    """A place in something `length` long, drawn without depending on `length`: ids the
    workspace mints grow longer as a test runs, and Hypothesis replays draws exactly."""
    return data.draw(st.integers(0, 2**20), label="position") % max(length, 1)


def on_the_wire(data: st.DataObject, body: bytes) -> bytes:
    """The body as sent: whole, truncated, or with bytes that are not UTF-8 spliced in."""
    how = data.draw(st.sampled_from(["whole"] * 4 + ["truncated", "not utf-8"]))
    if how == "whole" or not body:
        return body
    cut = position(data, len(body))
    if how == "truncated":
        return body[:cut]
    return body[:cut] + data.draw(NOT_UTF8, label="bytes") + body[cut:]


def form_fields(request: SlackRequest) -> dict[str, str]:
    return dict(parse_qsl(request.body, keep_blank_values=True))


def json_body(request: SlackRequest) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(request.body)
    return loaded


def interaction_payload(request: SlackRequest) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(form_fields(request)["payload"])
    return loaded


def actor(user: str, channel: str = GENERAL) -> Actor:
    return Actor(TEAM, user, user[1:].lower(), channel)


# What a request did


@dataclass(frozen=True)
class Outcome:
    response: Response
    problems: list[str]
    told: list[str]
    """Everything said to people after the request: the ack's body, response_url posts,
    messages, ephemerals and modals."""


def send(seeded: Seeded, body: bytes, content_type: str) -> Outcome:
    app = seeded.app
    calls, logged = len(app.slack.calls), len(seeded.problems.records)
    response = post(app, body, content_type)
    quiet()
    told = [response.body] if response.body.strip() else []
    for call in app.slack.calls[calls:]:
        if call.method in {"response_url", "chat.postMessage", "chat.postEphemeral"}:
            told.append(
                str(call.params.get("text") or "") + blocks_text(call.params.get("blocks") or [])
            )
        elif call.method == "views.open":
            told.append(json.dumps(call.params.get("view")))
    return Outcome(response, seeded.problems.since(logged), told)


def assert_survived(outcome: Outcome) -> None:
    assert outcome.response.status < 500, (outcome.response.status, outcome.response.body)
    assert not outcome.problems, "\n".join(outcome.problems)
    for said in outcome.told:
        assert not any(word in said for word in UNHELPFUL), said


def assert_still_answers(seeded: Seeded) -> None:
    """After everything, a plain question still gets a plain answer."""
    app = seeded.app
    before = len(app.workspace.messages(GENERAL))
    reply = app.command(actor(BOB), "find tensorflow 2.0")
    assert reply.status == 200
    posted = wait_for(lambda: app.workspace.messages(GENERAL)[before:])
    assert "TensorFlow" in blocks_text(posted[-1].blocks)
    quiet()
    assert not seeded.problems.records, "\n".join(seeded.problems.since(0))


def run_property(test: Callable[[st.DataObject], None]) -> None:
    given(st.data())(PROPERTY(test))()


# Slash commands

WORDS = ["find", "who", "stats", "gaps", "survey", "train", "forget-me", "add", "help", ""]
COMMAND_TEXT = st.one_of(
    TEXT,
    st.builds(lambda word, rest: f"{word} {rest}", st.sampled_from(WORDS), TEXT),
    st.builds(
        lambda word, rest: f"{word} {rest}",
        st.sampled_from(["survey", "train"]),
        st.sampled_from(["list", "show", "digest", "mine", "done", "join", "snooze", "assign"]),
    ).flatmap(lambda head: st.builds(lambda tail: f"{head} {tail}", ODD_TEXT)),
)


def _command(seeded: Seeded, user: str, text: str) -> dict[str, str]:
    ws = seeded.app.workspace
    return form_fields(
        command(actor(user), text, ws.response_url(GENERAL, user), ws.trigger_id(user))
    )


def test_any_command_text_gets_a_readable_reply(seeded: Seeded) -> None:
    def example(data: st.DataObject) -> None:
        user = data.draw(st.sampled_from([ALICE, ADMIN]), label="user")
        text = data.draw(COMMAND_TEXT, label="text")
        outcome = send(seeded, urlencode(_command(seeded, user, text)).encode(), FORM)
        assert_survived(outcome)
        assert outcome.response.status == 200
        assert any(said.strip() for said in outcome.told), "the person was told nothing"

    run_property(example)
    assert_still_answers(seeded)


def test_mangled_commands_never_fail(seeded: Seeded) -> None:
    def example(data: st.DataObject) -> None:
        fields = _command(seeded, ALICE, data.draw(COMMAND_TEXT, label="text"))
        response_url = fields["response_url"]
        fields = mutate(data, fields, TEXT)
        body = on_the_wire(data, urlencode(fields).encode())
        outcome = send(seeded, body, data.draw(st.sampled_from([FORM, FORM, JSON])))
        assert_survived(outcome)
        intact = fields.get("response_url") == response_url and fields.get("command") == "/lepton"
        if outcome.response.status == 200 and intact and body == urlencode(fields).encode():
            assert any(said.strip() for said in outcome.told), "the person was told nothing"

    run_property(example)
    assert_still_answers(seeded)


# Events

REACTIONS = st.one_of(st.sampled_from(["+1", "-1", "thumbsup", "+1::skin-tone-2", "eyes"]), TEXT)


def _event(seeded: Seeded, data: st.DataObject) -> dict[str, Any]:
    ws = seeded.app.workspace
    kind = data.draw(
        st.sampled_from(
            ["app_mention", "message", "reaction_added", "reaction_removed", "app_home_opened"]
        ),
        label="event",
    )
    if kind == "app_mention":
        text = data.draw(TEXT, label="question")[:3000]
        said = ws.post_user_message(GENERAL, ALICE, f"<@{ws.bot_user_id}> {text}".strip())
        payload: dict[str, Any] = {
            "type": kind,
            "user": ALICE,
            "text": said.text,
            "ts": said.ts,
            "channel": GENERAL,
            "event_ts": said.ts,
        }
    elif kind == "message":
        dm = ws.dm_channel(ALICE)
        said = ws.post_user_message(dm, ALICE, data.draw(TEXT, label="question")[:3000] or ".")
        payload = {
            "type": kind,
            "channel_type": "im",
            "user": ALICE,
            "text": said.text,
            "ts": said.ts,
            "channel": dm,
            "event_ts": said.ts,
        }
    elif kind == "app_home_opened":
        payload = {"type": kind, "user": ALICE, "tab": "home", "event_ts": f"{time.time():.6f}"}
    else:
        payload = {
            "type": kind,
            "user": BOB,
            "reaction": data.draw(REACTIONS, label="reaction"),
            "item": {"type": "message", "channel": GENERAL, "ts": seeded.answer_ts},
            "item_user": ws.bot_user_id,
            "event_ts": f"{time.time():.6f}",
        }
    return json_body(event(TEAM, payload))


def test_mangled_events_never_fail(seeded: Seeded) -> None:
    def example(data: st.DataObject) -> None:
        envelope = mutate(data, _event(seeded, data))
        body = on_the_wire(data, json.dumps(envelope).encode())
        assert_survived(send(seeded, body, data.draw(st.sampled_from([JSON, JSON, FORM]))))

    run_property(example)
    assert_still_answers(seeded)


# Buttons, modals and the message shortcut


def _action(seeded: Seeded, data: st.DataObject) -> dict[str, Any]:
    ws = seeded.app.workspace
    choices: list[tuple[str, str, str, str]] = [
        # (action_id, value, channel, message ts)
        *[
            (a, str(s), GENERAL, seeded.answer_ts)
            for a in (RATE_UP, RATE_DOWN)
            for s in seeded.snippet_ids
        ],
        (MORE_RESULTS, "3", GENERAL, seeded.answer_ts),
        (WHY_THESE, "why", GENERAL, seeded.answer_ts),
        (FORGET_CONFIRM, BOB, GENERAL, seeded.answer_ts),
        (FORGET_CANCEL, "cancel", GENERAL, seeded.answer_ts),
        *[
            (b["action_id"], b["value"], seeded.survey_dm, seeded.survey_ts)
            for b in seeded.survey_buttons
        ],
        (DONE, json.dumps({"m": seeded.modules[0]}), ws.dm_channel(ALICE), seeded.survey_ts),
        *[
            (
                f"{SNOOZE}:{days}",
                json.dumps({"a": seeded.assignment_id}),
                ws.dm_channel(ALICE),
                seeded.survey_ts,
            )
            for days in (1, 3, 7)
        ],
        (OPEN, json.dumps({"a": seeded.assignment_id}), ws.dm_channel(ALICE), seeded.survey_ts),
        (ENROL, json.dumps({"m": seeded.modules[-1]}), ws.dm_channel(ALICE), seeded.survey_ts),
    ]
    action_id, value, channel, ts = data.draw(st.sampled_from(choices), label="button")
    in_view = data.draw(st.booleans(), label="in the App Home")
    container = (
        {"type": "view", "view_id": "V0HOME"}
        if in_view
        else {"type": "message", "message_ts": ts, "channel_id": channel}
    )
    request = block_action(
        actor(ALICE, channel),
        {"action_id": action_id, "block_id": "b", "value": value},
        container,
        None if in_view else ws.response_url(channel, ALICE, ts),
        trigger_id=ws.trigger_id(ALICE),
    )
    return interaction_payload(request)


def _view(seeded: Seeded, data: st.DataObject) -> dict[str, Any]:
    ws = seeded.app.workspace
    kind = data.draw(st.sampled_from([ADD_CALLBACK, SAVE_CALLBACK, COMMENT_CALLBACK]))
    if kind == ADD_CALLBACK:
        view, blocks = add_modal(), ["title", "text", "tags", "link"]
    elif kind == SAVE_CALLBACK:
        said = ws.post_user_message(GENERAL, BOB, "Printers on floor three need the blue driver.")
        view = save_modal(
            said.text, {"team": TEAM, "channel": GENERAL, "ts": said.ts, "author": BOB}
        )
        blocks = ["title", "text", "tags"]
    else:
        first = seeded.survey_buttons[0]
        meta = {**json.loads(first["value"]), "c": seeded.survey_dm, "ts": seeded.survey_ts}
        view = {"type": "modal", "callback_id": kind, "private_metadata": json.dumps(meta)}
        blocks = [COMMENT_BLOCK]
    values = {block: data.draw(TEXT, label=block) for block in blocks}
    return interaction_payload(view_submission(actor(ALICE), {**view, "id": "V0MODAL"}, values))


def _shortcut(seeded: Seeded, data: st.DataObject) -> dict[str, Any]:
    ws = seeded.app.workspace
    said = ws.post_user_message(GENERAL, BOB, data.draw(TEXT, label="message")[:3000] or ".")
    request = message_shortcut(
        actor(ALICE),
        SAVE_SHORTCUT,
        {"type": "message", "user": BOB, "ts": said.ts, "text": said.text},
        ws.response_url(GENERAL, ALICE),
        ws.trigger_id(ALICE),
    )
    return interaction_payload(request)


def test_mangled_interactions_never_fail(seeded: Seeded) -> None:
    builders = [_action, _action, _view, _shortcut]

    def example(data: st.DataObject) -> None:
        build = data.draw(st.sampled_from(builders), label="kind")
        payload = mutate(data, build(seeded, data))
        how = data.draw(st.sampled_from(["form"] * 4 + ["bad json", "json body"]))
        if how == "bad json":
            text = json.dumps(payload)
            encoded = urlencode({"payload": text[: position(data, len(text))]})
        elif how == "json body":
            encoded = json.dumps(payload)
        else:
            encoded = urlencode({"payload": json.dumps(payload)})
        body = on_the_wire(data, encoded.encode())
        assert_survived(send(seeded, body, JSON if how == "json body" else FORM))

    run_property(example)
    assert_still_answers(seeded)


def test_bodies_bolt_itself_cannot_read_are_refused(seeded: Seeded) -> None:
    """Found by the interactions property (seeds 41 and 71): Bolt indexes `view.type` of any
    view submission, and `workflow_step` of a step edit, while building listener arguments,
    and reads a null `view` when it logs a request no listener takes, before any handler or
    error handler can run."""
    submitted = interaction_payload(
        view_submission(actor(ALICE), {**add_modal(), "id": "V0MODAL"}, {"title": "x"})
    )
    del submitted["view"]["type"]
    shortcut = message_shortcut(actor(ALICE), "edit", {"ts": "1.2", "text": "x"}, "")
    step_edit = {**interaction_payload(shortcut), "type": "workflow_step_edit"}
    untyped = {**submitted, "view": None}
    del untyped["type"]
    for payload in (submitted, step_edit, untyped):
        outcome = send(seeded, urlencode({"payload": json.dumps(payload)}).encode(), FORM)
        assert outcome.response.status == 400, payload
        assert_survived(outcome)
    assert_still_answers(seeded)
