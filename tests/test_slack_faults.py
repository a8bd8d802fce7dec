"""Slack's Web API failing while Lepton talks to it: 429 with Retry-After, 500s, timeouts and
ok:false refusals, during answers (the real app over signed HTTP) and during the messages the
scheduler sends on its own (nudges, training and survey digests, through the real scheduler
pass on a frozen clock). Waiting is retried, nothing is posted twice, and what cannot work is
said to the asker or recorded as failed, never silently dropped. SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.sql.elements import ColumnElement

from bot import migrate
from bot.services import Services
from bot.settings import load_settings
from bot.simulated_slack.payloads import Actor, event
from bot.simulated_slack.server import LocalSlack, Message, Reply, Workspace
from handlers.knowledge import replies
from models import (
    Answer,
    Nudge,
    QueryLog,
    SurveyDigestPost,
    TrainingDigestPost,
    create_db_engine,
)
from models.sending import SendState
from people.training.catalog import import_catalog
from tests.conftest import fresh_database
from tests.slack_app import TEAM, RunningApp, running_app, settle, wait_for

TIMEOUT = 1.0
"""SLACK_TIMEOUT_SECONDS here: a Slack that has not answered after this long has timed out."""
BOT = "ULEPTONBOT"
Handler = Callable[[dict[str, Any]], "dict[str, Any] | Reply"]
Fault = Callable[[dict[str, Any], Handler, int], "dict[str, Any] | Reply"]
_serial = itertools.count(1)


def on_posts_to(slack: LocalSlack, channel: str, fault: Fault) -> list[float]:
    """Answer chat.postMessage to `channel` with `fault(params, real_post, attempt)`; returns
    the moment of each attempt there, as it grows."""
    post = slack.handler("chat.postMessage")
    assert post is not None
    attempts: list[float] = []

    def handler(params: dict[str, Any]) -> dict[str, Any] | Reply:
        if params.get("channel") != channel:
            return post(params)
        attempts.append(time.monotonic())
        return fault(params, post, len(attempts))

    slack.on("chat.postMessage", handler)
    return attempts


def rate_limited_once(params: dict[str, Any], post: Handler, attempt: int) -> Any:
    if attempt == 1:
        return Reply(429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"})
    return post(params)


def posted_then_500(params: dict[str, Any], post: Handler, attempt: int) -> Any:
    answer = post(params)
    return Reply(500, body={"ok": False, "error": "internal_error"}) if attempt == 1 else answer


def posted_then_timed_out(params: dict[str, Any], post: Handler, attempt: int) -> Any:
    answer = post(params)
    if attempt == 1:
        time.sleep(TIMEOUT + 0.5)  # Slack posted it but answers after the client gave up
    return answer


def always_500(params: dict[str, Any], post: Handler, attempt: int) -> Any:
    return Reply(500, body={"ok": False, "error": "internal_error"})


def refused(code: str) -> Fault:
    def fault(params: dict[str, Any], post: Handler, attempt: int) -> Any:
        return Reply(body={"ok": False, "error": code})

    return fault


# Answers: someone is waiting


@pytest.fixture(scope="module")
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder: Any
) -> Iterator[RunningApp]:
    with fresh_database("sqlite", request, tmp_path_factory) as url:
        engine = create_db_engine(url)
        try:
            with running_app(
                engine, tmp_path_factory.mktemp("app"), embedder, slack_timeout_seconds=TIMEOUT
            ) as running:
                yield running
        finally:
            engine.dispose()


@dataclass(frozen=True)
class Question:
    """A question about to be asked on one surface by a person of its own, in a conversation
    of its own, so what the test counts there is this question's doing."""

    surface: str
    user: str
    channel: str
    query: str = "how do I request access to production?"

    def ask(self, app: RunningApp) -> None:
        channel = self.channel
        if self.surface == "command":
            app.command(Actor(TEAM, self.user, self.user.lower(), channel), f"find {self.query}")
            return
        kind = "message" if self.surface == "dm" else "app_mention"
        text = self.query if self.surface == "dm" else f"<@{BOT}> {self.query}"
        message = app.workspace.post_user_message(channel, self.user, text)
        payload = {
            "type": kind,
            "user": self.user,
            "text": text,
            "ts": message.ts,
            "channel": channel,
            "event_ts": message.ts,
        }
        if self.surface == "dm":
            payload["channel_type"] = "im"
        app.send(event(TEAM, payload))

    def answers(self, app: RunningApp) -> list[Message]:
        """The answers anyone can see where the question was asked."""
        shown = app.workspace.messages(self.channel)
        if self.surface == "mention":
            (asked,) = [m for m in shown if m.user == self.user]
            shown = app.workspace.thread(self.channel, asked.ts)
        return [m for m in shown if m.user == BOT and m.blocks]

    def notices(self, app: RunningApp) -> list[str]:
        """What only the asker was told, where they asked."""
        return [m.text for m in app.workspace.ephemerals(self.channel, self.user)]

    def recorded(self, app: RunningApp) -> list[tuple[str, str]]:
        """Answers recorded as shown to this person: (channel, message ts)."""
        with app.services.home.sessions() as session:
            rows = session.execute(
                select(Answer.channel_id, Answer.message_ts).where(
                    Answer.asker_user_id == self.user
                )
            ).all()
        return [(str(c), str(t)) for c, t in rows]

    def logged(self, app: RunningApp) -> int:
        with app.services.home.sessions() as session:
            count = session.scalar(select(func.count()).where(QueryLog.user_id == self.user))
        return int(count or 0)

    def done(self, app: RunningApp) -> bool:
        return bool(self.recorded(app) or self.notices(app))


def question(app: RunningApp, surface: str) -> Question:
    n = next(_serial)
    user = f"UFAULT{n:03d}"
    app.workspace.add_user(user, f"fault{n}")
    if surface == "dm":
        return Question(surface, user, app.workspace.dm_channel(user))
    channel = f"CFAULT{n:03d}"
    app.workspace.add_channel(channel, f"faults-{n}", members=[user])
    return Question(surface, user, channel)


def asked(app: RunningApp, q: Question) -> None:
    """Ask, and wait until Lepton recorded an answer or told the asker why there is none."""
    q.ask(app)
    wait_for(lambda: q.done(app), timeout=60)
    settle(app)


def asked_while(app: RunningApp, q: Question, fault: Fault) -> list[float]:
    """Ask while posts to the question's channel meet `fault`; the moments of those attempts."""
    attempts = on_posts_to(app.slack, q.channel, fault)
    try:
        asked(app, q)
    finally:
        app.workspace.install(app.slack)
    return attempts


SURFACES = ["command", "mention", "dm"]


def test_a_normal_answer_costs_one_web_api_call(app: RunningApp) -> None:
    q = question(app, "command")
    before = len(app.slack.calls)
    asked(app, q)
    methods = [c.method for c in app.slack.calls[before:]]
    assert methods.count("chat.postMessage") == 1
    assert not {"conversations.history", "conversations.replies"} & set(methods)
    (answer,) = q.answers(app)
    assert q.recorded(app) == [(q.channel, answer.ts)]


@pytest.mark.parametrize("surface", SURFACES)
def test_a_rate_limited_answer_is_posted_once_after_retry_after(
    app: RunningApp, surface: str
) -> None:
    q = question(app, surface)
    attempts = asked_while(app, q, rate_limited_once)
    (answer,) = q.answers(app)
    assert "access" in str(answer.blocks).lower()
    assert len(attempts) == 2 and attempts[1] - attempts[0] >= 1.0, "Retry-After was honoured"
    assert q.recorded(app) == [(q.channel, answer.ts)]
    assert q.notices(app) == []


@pytest.mark.parametrize("fault", [posted_then_500, posted_then_timed_out])
@pytest.mark.parametrize("surface", SURFACES)
def test_an_answer_slack_posted_before_failing_is_shown_once(
    app: RunningApp, surface: str, fault: Fault
) -> None:
    q = question(app, surface)
    attempts = asked_while(app, q, fault)
    (answer,) = q.answers(app)
    assert len(attempts) == 1, "found in Slack, not posted again"
    assert q.recorded(app) == [(q.channel, answer.ts)], "reactions on it count"
    assert q.notices(app) == []


@pytest.mark.parametrize("surface", SURFACES)
def test_slack_failing_every_try_tells_the_asker_to_try_again(
    app: RunningApp, surface: str
) -> None:
    q = question(app, surface)
    attempts = asked_while(app, q, always_500)
    assert q.notices(app) == [replies.SLACK_AWAY]
    assert len(attempts) == 3, "a few tries while the asker waits, then stop"
    assert q.answers(app) == [] and q.recorded(app) == []
    assert q.logged(app) == 1, "the question is logged once"


CHANNEL_REFUSALS = ["channel_not_found", "is_archived", "not_in_channel"]


@pytest.mark.parametrize("code", [*CHANNEL_REFUSALS, "msg_too_long"])
@pytest.mark.parametrize("surface", SURFACES)
def test_a_refusal_that_waiting_cannot_fix_is_told_in_one_line(
    app: RunningApp, surface: str, code: str
) -> None:
    q = question(app, surface)
    attempts = asked_while(app, q, refused(code))
    assert len(attempts) == 1, "not retried"
    assert q.answers(app) == []
    assert q.logged(app) == 1
    (notice,) = q.notices(app)
    assert "\n" not in notice and "Sorry, something went wrong" not in notice
    if code in CHANNEL_REFUSALS and surface == "command":
        assert notice == replies.SENT_TO_DM
        dm = app.workspace.dm_channel(q.user)
        (answer,) = [m for m in app.workspace.messages(dm) if m.user == BOT]
        assert q.recorded(app) == [(dm, answer.ts)]
        return
    assert q.recorded(app) == [], "nothing recorded as answered"
    if code in CHANNEL_REFUSALS:
        assert notice == replies.CANNOT_ANSWER_HERE
    else:
        assert notice == replies.answer_refused(code) and code in notice


# Messages the scheduler sends on its own

MONDAY = date(2026, 11, 30)
START = datetime.combine(MONDAY, clock(13), UTC)  # 14:00 in Berlin: working hours
BERLIN = "Europe/Berlin"
LEADS, SURVEY_LEADS, SURVEY_FOLK = "C0LEADS", "C0SURVEYLEADS", "C0SURVEYFOLK"
CATALOG = Path(__file__).resolve().parent.parent / "examples" / "training.yml"
SURVEY = """
surveys:
  - key: pulse
    title: Pulse
    questions:
      - {id: workload, text: "My workload was manageable."}
    channels: ["#survey-folk"]
    window: 3d
    digest_channels: ["#survey-leads"]
    anonymity_threshold: 3
"""


@dataclass
class World:
    slack: LocalSlack
    workspace: Workspace
    services: Services

    def tick(self, now: datetime) -> None:
        self.services.home.scheduled_work(now)

    def run(self, start: datetime, until: timedelta, every: timedelta) -> None:
        moment = start
        while moment <= start + until:
            self.tick(moment)
            moment += every


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Iterator[World]:
    with LocalSlack() as slack:
        workspace = Workspace(slack)
        for user in ("UAIKO", "UBEN"):
            workspace.add_user(user, user.lower(), tz=BERLIN)
        workspace.add_channel(LEADS, "people-leads", members=("UAIKO",))
        workspace.add_channel(SURVEY_LEADS, "survey-leads", members=("UAIKO",))
        workspace.add_channel(SURVEY_FOLK, "survey-folk", members=())
        survey_file = tmp_path / "surveys.yml"
        survey_file.write_text(SURVEY)
        migrate.upgrade(engine)
        settings = load_settings(
            None,
            lepton_data_dir=tmp_path / "data",
            slack_bot_token="xoxb-fault-tests",
            slack_signing_secret="secret",
            slack_api_url=slack.base_url,
            slack_timeout_seconds=TIMEOUT,
            lepton_training_digest_channels="#people-leads",
            lepton_surveys=survey_file,
            lepton_send_lease_seconds=60,
        )
        services = Services(settings, engine)
        import_catalog(services.home.sessions, CATALOG)
        yield World(slack, workspace, services)


@dataclass(frozen=True)
class Outgoing:
    """One message the scheduler will send, and where to see it and its row."""

    channel: str
    model: type[SendState]
    which: ColumnElement[bool]

    def visible(self, world: World) -> list[Message]:
        return [m for m in world.workspace.messages(self.channel) if m.user == BOT and not m.files]

    def row(self, world: World) -> SendState:
        with world.services.home.sessions() as session:
            found = session.scalars(
                select(self.model).where(self.which).order_by(self.model.id)  # type: ignore[attr-defined]
            ).first()
        assert found is not None, "the message was never planned"
        return found


def _assign(world: World, user: str, due: date) -> None:
    at = START - timedelta(days=1)
    world.services.home.training.assign(
        user, "kubernetes-101", datetime.combine(due, clock(23, 59), UTC), None, at
    )


def a_nudge(world: World) -> Outgoing:
    _assign(world, "UBEN", MONDAY + timedelta(days=3))  # 3 days ahead: a nudge today
    return Outgoing(world.workspace.dm_channel("UBEN"), Nudge, Nudge.user_id == "UBEN")


def a_training_digest(world: World) -> Outgoing:
    _assign(world, "UAIKO", MONDAY + timedelta(days=5))
    return Outgoing(LEADS, TrainingDigestPost, TrainingDigestPost.part == "summary")


def a_survey_digest(world: World) -> Outgoing:
    world.services.home.surveys.start("pulse", START - timedelta(hours=1))
    world.services.home.surveys.close("pulse", START)
    return Outgoing(SURVEY_LEADS, SurveyDigestPost, SurveyDigestPost.part == "summary")


KINDS = [a_nudge, a_training_digest, a_survey_digest]


@pytest.mark.parametrize("kind", KINDS)
def test_a_rate_limited_message_waits_for_retry_after_then_goes_out_once(
    world: World, kind: Callable[[World], Outgoing]
) -> None:
    out = kind(world)
    attempts = on_posts_to(world.slack, out.channel, rate_limited_once)
    world.tick(START)
    assert out.visible(world) == [] and out.row(world).status == "pending"
    world.tick(START + timedelta(seconds=0.5))
    assert len(attempts) == 1, "not again before Retry-After"
    world.tick(START + timedelta(seconds=1))
    (message,) = out.visible(world)
    row = out.row(world)
    assert (row.status, row.message_ts, len(attempts)) == ("sent", message.ts, 2)


@pytest.mark.parametrize("fault", [posted_then_500, posted_then_timed_out])
@pytest.mark.parametrize("kind", KINDS)
def test_a_message_slack_posted_before_failing_is_not_sent_again(
    world: World, kind: Callable[[World], Outgoing], fault: Fault
) -> None:
    out = kind(world)
    attempts = on_posts_to(world.slack, out.channel, fault)
    world.tick(START)
    assert len(out.visible(world)) == 1 and out.row(world).status == "pending"
    world.run(START + timedelta(seconds=30), timedelta(hours=2), timedelta(minutes=10))
    (message,) = out.visible(world)
    row = out.row(world)
    assert (row.status, row.message_ts) == ("sent", message.ts), "found in Slack"
    assert len(attempts) == 1, "never posted a second time"


IMPOSTORS = {a_nudge: "UBEN", a_training_digest: "UAIKO", a_survey_digest: "UAIKO"}


@pytest.mark.parametrize("kind", KINDS)
def test_a_copy_someone_else_posted_with_the_key_does_not_count_as_sent(
    world: World, kind: Callable[[World], Outgoing]
) -> None:
    """Slack fails the first post with a 500; meanwhile a person (or another app) posts a
    message carrying the same key. The retry still posts Lepton's own message."""
    out = kind(world)

    def impostor_then_500(params: dict[str, Any], post: Handler, attempt: int) -> Any:
        if attempt > 1:
            return post(params)
        metadata = params["metadata"]
        forged = world.workspace.post_user_message(params["channel"], IMPOSTORS[kind], "hi")
        with world.workspace.state.lock:
            world.workspace.state.messages[forged.channel][forged.ts] = replace(
                forged, metadata=json.loads(metadata) if isinstance(metadata, str) else metadata
            )
        return Reply(500, body={"ok": False, "error": "internal_error"})

    attempts = on_posts_to(world.slack, out.channel, impostor_then_500)
    world.run(START, timedelta(hours=2), timedelta(minutes=10))
    (message,) = out.visible(world)
    row = out.row(world)
    assert (row.status, row.message_ts) == ("sent", message.ts), "Lepton's own message counts"
    assert len(attempts) == 2


@pytest.mark.parametrize("code", ["channel_not_found", "is_archived", "msg_too_long"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_permanent_refusal_is_recorded_as_failed_and_not_retried(
    world: World, kind: Callable[[World], Outgoing], code: str, caplog: pytest.LogCaptureFixture
) -> None:
    out = kind(world)
    attempts = on_posts_to(world.slack, out.channel, refused(code))
    with caplog.at_level(logging.WARNING, logger="people.outbox"):
        world.run(START, timedelta(hours=20), timedelta(hours=1))
    row = out.row(world)
    assert (row.status, row.error, row.attempts, len(attempts)) == ("failed", code, 1, 1)
    assert out.visible(world) == []
    table = out.model.__tablename__  # type: ignore[attr-defined]
    assert any(table in r.getMessage() and code in r.getMessage() for r in caplog.records), (
        "given up out loud, not silently"
    )


def down(failure: str) -> tuple[Fault, Callable[[], None]]:
    """Slack failing every post (500 or not answering) until `recover()` is called."""
    state = {"down": True}

    def fault(params: dict[str, Any], post: Handler, attempt: int) -> Any:
        if not state["down"]:
            return post(params)
        if failure == "timeout":
            time.sleep(TIMEOUT + 0.5)
            return Reply(504, body={"ok": False, "error": "timeout"})
        return Reply(503, body={"ok": False, "error": "service_unavailable"})

    def recover() -> None:
        state["down"] = False

    return fault, recover


@pytest.mark.parametrize(
    ("kind", "failure"), [*((kind, "503") for kind in KINDS), (a_nudge, "timeout")]
)
def test_slack_down_for_hours_delays_a_message_without_losing_it(
    world: World, kind: Callable[[World], Outgoing], failure: str
) -> None:
    out = kind(world)
    fault, recover = down(failure)
    attempts = on_posts_to(world.slack, out.channel, fault)
    every = timedelta(minutes=10)
    outage = timedelta(hours=3)
    world.run(START, outage, every)
    assert out.visible(world) == [] and out.row(world).status == "pending"
    assert len(attempts) <= 10, "backed off, not tried on every one of the 19 passes"
    recover()
    world.run(START + outage + every, timedelta(hours=1), every)
    (message,) = out.visible(world)
    row = out.row(world)
    assert (row.status, row.message_ts) == ("sent", message.ts)
