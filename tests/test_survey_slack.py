"""Pulse surveys through the real Slack app over HTTP: the survey DM's buttons and comment
modal, `/lepton survey ...`, opting out, the digest with its chart, and the App Home, with
invitations sent by the scheduler's real Slack couriers to the simulated workspace."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.simulated_slack.payloads import Actor, block_action, event, view_submission
from bot.simulated_slack.shapes import Message
from models import AuditLog, SurveyAnswer, SurveyDelivery, SurveySealedAnswers
from people.surveys.schedule import REMINDER_LEAD
from tests.slack_app import ADMIN, TEAM, RunningApp, blocks_text, running_app, settle, wait_for

ALICE, BOB, CAROL, DAVE = "UALICE01", "UBOB0001", "UCAROL01", "UDAVE001"
# At 12:00 UTC each of these is between 12:00 and 14:00 local, summer or winter: inside the
# survey's send time (09:00) and the end of working hours (18:00) for everyone.
ZONES = {ALICE: "UTC", BOB: "Europe/London", CAROL: "Europe/Berlin", DAVE: "Europe/Lisbon"}
LEADS = "CLEADS01"
SURVEY_FILE = """
surveys:
  - key: pulse
    title: Team pulse
    questions:
      - id: workload
        text: My workload is manageable.
      - id: enps
        kind: enps
        text: How likely are you to recommend working here?
      - id: focus
        kind: choice
        text: What slowed you down most?
        labels: [Meetings, Tooling, Nothing]
    comment: Anything leadership should hear?
    channels: ["#general"]
    send_time: "09:00"
    window: 14d
    remind_before: 1d
    digest_channels: ["#people-leads"]
    anonymity_threshold: 3
"""


def round_start() -> datetime:
    """The latest weekday 12:00 UTC before now: every zone above is then in working hours on a
    weekday, and a 14-day window keeps the round open on the real clock the handlers use."""
    real = datetime.now(UTC)
    day = real.date()
    while True:
        moment = datetime.combine(day, time(12), UTC)
        if moment < real and moment.weekday() < 5:
            return moment
        day -= timedelta(days=1)


@pytest.fixture
def app(engine: Engine, tmp_path: Path, embedder: Any) -> Iterator[RunningApp]:
    surveys = tmp_path / "surveys.yml"
    surveys.write_text(SURVEY_FILE, encoding="utf-8")
    with running_app(engine, tmp_path / "data", embedder, lepton_surveys=surveys) as running:
        ws = running.workspace
        for user, tz in ZONES.items():
            ws.add_user(user, user[1:].lower().rstrip("0123456789"), tz=tz)
        ws.add_user(ADMIN, "admin", tz="UTC")
        ws.add_channel("CGENERAL", "general", members=list(ZONES))
        ws.add_channel(LEADS, "people-leads", members=[ADMIN])
        assert running.services.home.surveys.definitions(), "the survey file was stored"
        yield running


# Helpers


def reply_text(reply: dict[str, Any]) -> str:
    return "\n".join([str(reply.get("text") or ""), blocks_text(reply.get("blocks") or [])])


def actor(user: str, channel: str = "CGENERAL") -> Actor:
    return Actor(TEAM, user, user.lower(), channel)


def run_command(app: RunningApp, user: str, text: str) -> str:
    """`/lepton <text>` from #general; what the person is told (the first reply)."""
    before = len(app.responses())
    assert app.command(actor(user), text).status == 200
    wait_for(lambda: len(app.responses()) > before)
    return reply_text(app.responses()[before])


def open_round(app: RunningApp, now: datetime) -> int:
    """Start a round and run the scheduler once: the invitations go out."""
    started = app.services.home.surveys.start("pulse", now)
    app.services.home.scheduled_work(now)
    return started.id


def invitation(app: RunningApp, user: str) -> Message:
    """The person's latest survey DM from the bot."""
    ws = app.workspace
    found = [
        m
        for m in ws.messages(ws.dm_channel(user))
        if m.user == ws.bot_user_id and "survey_answer:" in json.dumps(m.blocks)
    ]
    assert found, f"{user} got no survey DM"
    return found[-1]


def current(app: RunningApp, message: Message) -> Message:
    return app.workspace.message(message.channel, message.ts)


def button(message: Message, action_id: str) -> tuple[str, dict[str, Any]]:
    """(block_id, button) for the button with this action id."""
    return next(
        (b["block_id"], e)
        for b in message.blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    )


def press(
    app: RunningApp,
    user: str,
    message: Message,
    action_id: str,
    value: str | None = None,
) -> None:
    """`user` presses a button of `message`, in the DM it was posted in."""
    block_id, found = button(message, action_id)
    ws = app.workspace
    reply = app.send(
        block_action(
            actor(user, message.channel),
            {"action_id": action_id, "block_id": block_id, "value": value or found["value"]},
            {"type": "message", "message_ts": message.ts, "channel_id": message.channel},
            ws.response_url(message.channel, user, message.ts),
            trigger_id=ws.trigger_id(user),
        )
    )
    assert reply.status == 200, reply.body


def answer(app: RunningApp, user: str, question: str, value: int) -> Message:
    """Press an answer in the person's survey DM; the DM then says the question is answered,
    and never with what (anyone with the bot token can read a DM back)."""
    message = invitation(app, user)
    press(app, user, message, f"survey_answer:{question}:{value}")
    wait_for(lambda: "Answered" in blocks_text(current(app, message).blocks))
    settle(app)
    shown = current(app, message)
    text = blocks_text(shown.blocks)
    assert "Answered" in text and "You answered" not in text
    assert not any(
        e.get("style") for b in shown.blocks for e in b.get("elements", []) if "action_id" in e
    ), "no button is marked as the one chosen"
    return shown


def response_rows(app: RunningApp) -> list[dict[str, Any]]:
    """Open rounds' answers so far, opened with the app's own secret (as the app does)."""
    seal = app.services.home.surveys.answers.seal
    with app.services.home.sessions() as session:
        rows = session.scalars(select(SurveySealedAnswers)).all()
    return [
        {
            "respondent_key": r.respondent_key,
            **asdict(seal.open(r.round_id, r.respondent_key, r.sealed)),
        }
        for r in rows
    ]


def closed_answers(app: RunningApp) -> list[tuple[str, int]]:
    with app.services.home.sessions() as session:
        return [
            tuple(r) for r in session.execute(select(SurveyAnswer.question, SurveyAnswer.value))
        ]


def deliveries(app: RunningApp, round_id: int) -> dict[str, SurveyDelivery]:
    with app.services.home.sessions() as session:
        rows = session.scalars(select(SurveyDelivery).where(SurveyDelivery.round_id == round_id))
        return {d.user_id: d for d in rows}


def open_home(app: RunningApp, user: str) -> str:
    """The person opens the App Home; the text of the Surveys section that gets published."""
    before = len(app.slack.calls_to("views.publish"))
    payload = {"type": "app_home_opened", "user": user, "tab": "home", "event_ts": "1.1"}
    assert app.send(event(TEAM, payload)).status == 200
    wait_for(lambda: len(app.slack.calls_to("views.publish")) > before)
    home = app.workspace.home(user)
    assert home is not None
    text = blocks_text(home.view["blocks"])
    return text[text.index("Surveys") :]


# Tests


def test_invitations_reach_everyone_in_the_audience_by_dm(app: RunningApp) -> None:
    round_id = open_round(app, round_start())
    sent = deliveries(app, round_id)
    assert set(sent) == set(ZONES)
    assert {d.status for d in sent.values()} == {"sent"}
    for user in ZONES:
        message = invitation(app, user)
        text = blocks_text(message.blocks)
        assert "Team pulse" in text and "My workload is manageable." in text
        assert {b.get("block_id") for b in message.blocks} >= {"q:workload", "q:enps", "q:focus"}
    assert not app.workspace.messages(app.workspace.dm_channel(ADMIN))


def test_an_answer_button_records_and_a_second_press_changes_it(app: RunningApp) -> None:
    open_round(app, round_start())
    shown = answer(app, ALICE, "workload", 4)
    assert "Recorded: 1 of 3 answers" in blocks_text(shown.blocks)
    assert [r["answers"] for r in response_rows(app)] == [{"workload": 4}]

    answer(app, ALICE, "workload", 2)
    assert [r["answers"] for r in response_rows(app)] == [{"workload": 2}], "changed, not added"
    answer(app, ALICE, "enps", 9)
    rows = response_rows(app)
    assert [r["answers"] for r in rows] == [{"workload": 2, "enps": 9}]
    assert ALICE not in json.dumps(rows, default=str), "a response never names its person"
    assert ALICE.lower() not in json.dumps(rows, default=str).lower()


def test_the_token_read_back_from_a_dm_does_not_lead_to_its_answers(app: RunningApp) -> None:
    """Whoever holds the bot token reads each person's DM back and finds the token in its
    buttons; whoever holds the database sees the respondent keys. Neither the token's hash nor a
    key derived from the bot token is any stored key."""
    open_round(app, round_start())
    for user, value in ((ALICE, 4), (BOB, 2)):
        answer(app, user, "workload", value)
    keys = {row["respondent_key"] for row in response_rows(app)}
    assert len(keys) == 2
    bot_token = app.services.settings.slack_bot_token
    assert bot_token is not None
    for user in (ALICE, BOB):
        value = next(
            e["value"]
            for b in invitation(app, user).blocks
            for e in b.get("elements", [])
            if str(e.get("action_id", "")).startswith("survey_answer:")
        )
        token = json.loads(value)["t"]
        guesses = {
            hashlib.sha256(token.encode()).hexdigest(),
            hashlib.sha256((token + bot_token.get_secret_value()).encode()).hexdigest(),
            hmac.new(bot_token.get_secret_value().encode(), token.encode(), "sha256").hexdigest(),
        }
        assert not guesses & keys, f"{user}'s DM leads to their answers"


def test_at_close_every_dm_says_the_same_words_and_nothing_points_to_it(app: RunningApp) -> None:
    """After the round, the bot token's `conversations.history` shows the same neutral text in
    the DM of someone who answered and of someone who did not, and no row keeps the DM's place;
    a second pass edits nothing again."""
    round_id = open_round(app, round_start())
    answer(app, ALICE, "workload", 4)
    dms = {user: invitation(app, user) for user in (ALICE, BOB)}
    run_command(app, ADMIN, "survey close pulse")
    app.services.home.scheduled_work(datetime.now(UTC))
    shown = {user: current(app, message) for user, message in dms.items()}
    assert blocks_text(shown[ALICE].blocks) == blocks_text(shown[BOB].blocks)
    assert "has closed" in blocks_text(shown[ALICE].blocks)
    assert shown[ALICE].text == shown[BOB].text
    assert not any(b.get("type") == "actions" for b in shown[ALICE].blocks)
    rows = deliveries(app, round_id).values()
    assert all(row.channel_id is None and row.message_ts is None for row in rows)
    edits = len(app.slack.calls_to("chat.update"))
    app.services.home.scheduled_work(datetime.now(UTC))
    assert len(app.slack.calls_to("chat.update")) == edits


def test_comment_modal_records_and_edits_the_comment(app: RunningApp) -> None:
    open_round(app, round_start())
    message = invitation(app, BOB)
    press(app, BOB, message, "survey_comment")
    wait_for(lambda: app.workspace.modals(BOB))
    modal = app.workspace.pop_modal(BOB)
    assert modal is not None and modal.view["callback_id"] == "survey_comment_modal"
    assert "Anything leadership should hear?" in blocks_text(modal.view["blocks"])

    saved = app.send(view_submission(actor(BOB), modal.view, {"comment": "More focus time"}))
    assert saved.status == 200
    wait_for(lambda: [r["comment"] for r in response_rows(app)] == ["More focus time"])
    settle(app)
    assert "Edit your comment" in blocks_text(current(app, message).blocks)
    assert "More focus time" not in blocks_text(current(app, message).blocks), "not in the DM"

    press(app, BOB, current(app, message), "survey_comment")
    wait_for(lambda: app.workspace.modals(BOB))
    again = app.workspace.pop_modal(BOB)
    assert again is not None and "More focus time" in json.dumps(again.view["blocks"])
    app.send(view_submission(actor(BOB), again.view, {"comment": "Fewer meetings, please"}))
    wait_for(lambda: [r["comment"] for r in response_rows(app)] == ["Fewer meetings, please"])
    settle(app)
    assert "Fewer meetings" not in blocks_text(current(app, message).blocks)
    rows = response_rows(app)
    assert [r["comment"] for r in rows] == ["Fewer meetings, please"]
    assert BOB not in json.dumps(rows, default=str)


def test_saving_an_empty_comment_alone_is_not_a_response(app: RunningApp) -> None:
    round_id = open_round(app, round_start())
    message = invitation(app, DAVE)
    press(app, DAVE, message, "survey_comment")
    wait_for(lambda: app.workspace.modals(DAVE))
    modal = app.workspace.pop_modal(DAVE)
    assert modal is not None
    assert app.send(view_submission(actor(DAVE), modal.view, {"comment": "  "})).status == 200
    settle(app, quiet=0.3)
    assert response_rows(app) == []
    assert not deliveries(app, round_id)[DAVE].responded


def test_a_button_from_someone_elses_dm_records_nothing(app: RunningApp) -> None:
    round_id = open_round(app, round_start())
    alices = invitation(app, ALICE)
    block_id, found = button(alices, "survey_answer:workload:1")
    before = len(app.responses())
    app.send(
        block_action(
            actor(BOB, alices.channel),
            {"action_id": found["action_id"], "block_id": block_id, "value": found["value"]},
            {"type": "message", "message_ts": alices.ts, "channel_id": alices.channel},
            app.workspace.response_url(alices.channel, BOB, alices.ts),
        )
    )
    wait_for(lambda: len(app.responses()) > before)
    told = app.responses()[before]
    assert "This survey was not sent to you" in told["text"]
    assert str(told.get("replace_original")).lower() in {"false", "none"}
    settle(app, quiet=0.3)
    assert response_rows(app) == []
    assert not any(d.responded for d in deliveries(app, round_id).values())
    assert current(app, alices).blocks == alices.blocks, "Alice's DM is untouched"


def test_a_comment_button_from_someone_elses_dm_shows_nothing(app: RunningApp) -> None:
    open_round(app, round_start())
    alices = invitation(app, ALICE)
    press(app, ALICE, alices, "survey_comment")
    wait_for(lambda: app.workspace.modals(ALICE))
    modal = app.workspace.pop_modal(ALICE)
    assert modal is not None
    app.send(view_submission(actor(ALICE), modal.view, {"comment": "My manager micromanages"}))
    wait_for(lambda: "Comment recorded" in blocks_text(current(app, alices).blocks))

    alices = current(app, alices)
    block_id, found = button(alices, "survey_comment")
    opened, before = len(app.slack.calls_to("views.open")), len(app.responses())
    app.send(
        block_action(
            actor(BOB, alices.channel),
            {"action_id": "survey_comment", "block_id": block_id, "value": found["value"]},
            {"type": "message", "message_ts": alices.ts, "channel_id": alices.channel},
            app.workspace.response_url(alices.channel, BOB, alices.ts),
            trigger_id=app.workspace.trigger_id(BOB),
        )
    )
    wait_for(lambda: len(app.responses()) > before)
    assert "This survey was not sent to you" in app.responses()[before]["text"]
    settle(app, quiet=0.3)
    assert len(app.slack.calls_to("views.open")) == opened
    assert not app.workspace.modals(BOB), "Bob never sees Alice's comment"


def test_the_comment_button_of_a_closed_round_says_it_closed(app: RunningApp) -> None:
    start = round_start()
    open_round(app, start)
    app.services.home.surveys.close("pulse", start + timedelta(hours=1))
    before = len(app.responses())
    press(app, CAROL, invitation(app, CAROL), "survey_comment")
    wait_for(lambda: len(app.responses()) > before)
    assert "closed" in app.responses()[before]["text"]
    settle(app, quiet=0.3)
    assert not app.workspace.modals(CAROL)


def test_a_reminder_goes_to_those_who_have_not_answered(app: RunningApp) -> None:
    """Checked at the last moment a reminder may go out: a day before a Monday deadline is a
    Sunday, so the reminder waits for Monday morning."""
    start = round_start()
    open_round(app, start)
    answer(app, ALICE, "workload", 4)
    last_call = start + app.services.home.surveys.definition("pulse").window - REMINDER_LEAD
    report = app.services.home.scheduled_work(last_call).surveys
    assert report.reminders.sent == 3
    for user in (BOB, CAROL, DAVE):
        latest = app.workspace.messages(app.workspace.dm_channel(user))[-1]
        assert "A reminder:" in latest.text and "Team pulse" in latest.text
        assert invitation(app, user).ts.replace(".", "") in latest.text, "links the survey"
    assert app.workspace.messages(app.workspace.dm_channel(ALICE))[-1].text.startswith("Team pulse")
    assert app.services.home.scheduled_work(last_call).surveys.reminders.sent == 0


def test_after_the_round_closes_a_press_records_nothing(app: RunningApp) -> None:
    start = round_start()
    open_round(app, start)
    for user, value in ((CAROL, 5), (ALICE, 4), (BOB, 3)):
        answer(app, user, "workload", value)
    app.services.home.surveys.close("pulse", start + timedelta(hours=1))
    assert response_rows(app) == [], "closing opens and deletes the sealed rows"
    message = invitation(app, CAROL)
    before = len(app.responses())
    press(app, CAROL, message, "survey_answer:workload:1")
    wait_for(lambda: len(app.responses()) > before)
    told = app.responses()[before]["text"]
    assert "closed" in told and "not recorded" in told
    settle(app, quiet=0.3)
    assert closed_answers(app) == [("workload", 3), ("workload", 4), ("workload", 5)]
    assert current(app, message).blocks == message.blocks


def test_closed_message_names_the_day_the_round_was_closed(app: RunningApp) -> None:
    start = round_start()
    open_round(app, start)
    closed = start + timedelta(hours=1)
    app.services.home.surveys.close("pulse", closed)
    before = len(app.responses())
    press(app, CAROL, invitation(app, CAROL), "survey_answer:workload:1")
    wait_for(lambda: len(app.responses()) > before)
    assert f"closed on {closed:%a %d %b}" in app.responses()[before]["text"]


def test_opting_out_skips_later_rounds_and_opting_in_restores_them(app: RunningApp) -> None:
    start = round_start()
    assert "will not get Lepton surveys" in run_command(app, DAVE, "survey optout")
    assert "already opted out" in run_command(app, DAVE, "survey optout")
    first = open_round(app, start)
    assert DAVE not in deliveries(app, first)
    assert set(deliveries(app, first)) == {ALICE, BOB, CAROL}
    assert not app.workspace.messages(app.workspace.dm_channel(DAVE))
    assert "opted out of surveys" in open_home(app, DAVE)

    app.services.home.surveys.close("pulse", start + timedelta(minutes=1))
    assert "Welcome back" in run_command(app, DAVE, "survey optin")
    assert "already getting" in run_command(app, DAVE, "survey optin")
    second = open_round(app, start + timedelta(minutes=2))
    assert deliveries(app, second)[DAVE].status == "sent"
    assert invitation(app, DAVE)


def test_opting_out_after_planning_skips_the_unsent_invitation(app: RunningApp) -> None:
    noon = round_start()
    early = noon - timedelta(hours=6)  # before 09:00 in every zone: planned, nothing sent
    started = app.services.home.surveys.start("pulse", early)
    app.services.home.scheduled_work(early)
    assert {d.status for d in deliveries(app, started.id).values()} == {"pending"}
    assert "will not get Lepton surveys" in run_command(app, DAVE, "survey optout")
    app.services.home.scheduled_work(noon)
    sent = deliveries(app, started.id)
    assert sent[DAVE].status == "skipped"
    assert not app.workspace.messages(app.workspace.dm_channel(DAVE))
    assert {sent[user].status for user in (ALICE, BOB, CAROL)} == {"sent"}


def test_survey_admin_commands_refuse_members_and_are_audited(app: RunningApp) -> None:
    refused = run_command(app, ALICE, "survey start pulse")
    assert "`/lepton survey start` is for Lepton admins" in refused
    assert app.services.home.surveys.rounds("pulse") == []
    assert "Did you mean `start`?" in run_command(app, ADMIN, "survey strat pulse")
    assert "never run" in run_command(app, ADMIN, "survey list")

    assert "Round 1 of `pulse` is open" in run_command(app, ADMIN, "survey start pulse")
    assert [r.number for r in app.services.home.surveys.rounds("pulse")] == [1]
    assert "already has an open round" in run_command(app, ADMIN, "survey start pulse")
    listed = run_command(app, ADMIN, "survey list")
    assert "`pulse`" in listed and "round 1 open until" in listed
    shown = run_command(app, ADMIN, "survey show pulse")
    assert "My workload is manageable." in shown and "Round 1 (" in shown
    assert "asked 0, answered 0" in shown
    withheld = run_command(app, ADMIN, "survey digest pulse")
    assert "withheld until the round closes" in withheld
    closed = run_command(app, ADMIN, "survey close pulse")
    assert "Round 1 of `pulse` is closed: 0 of 0 answered" in closed
    assert "has no open round" in run_command(app, ADMIN, "survey close pulse")
    assert "no survey `nope`" in run_command(app, ADMIN, "survey show nope")

    with app.services.home.sessions() as session:
        audited = session.execute(
            select(AuditLog.actor, AuditLog.action, AuditLog.target).order_by(AuditLog.id)
        ).all()
    assert [tuple(a) for a in audited] == [
        (ADMIN, "survey.list", None),
        (ADMIN, "survey.start", "pulse"),
        (ADMIN, "survey.start", "pulse"),
        (ADMIN, "survey.list", None),
        (ADMIN, "survey.show", "pulse"),
        (ADMIN, "survey.digest", "pulse"),
        (ADMIN, "survey.close", "pulse"),
        (ADMIN, "survey.close", "pulse"),
        (ADMIN, "survey.show", "nope"),
    ]


def test_a_closed_round_posts_its_digest_and_trend_chart(app: RunningApp) -> None:
    open_round(app, round_start())
    for user, workload, enps, focus in (
        (ALICE, 4, 9, 0),
        (BOB, 5, 10, 0),
        (CAROL, 3, 6, 1),
    ):
        answer(
            app,
            user,
            "workload",
            workload,
        )
        answer(app, user, "enps", enps)
        answer(app, user, "focus", focus)
    message = invitation(app, ALICE)
    press(app, ALICE, message, "survey_comment")
    wait_for(lambda: app.workspace.modals(ALICE))
    modal = app.workspace.pop_modal(ALICE)
    assert modal is not None
    app.send(view_submission(actor(ALICE), modal.view, {"comment": "Standups run long"}))
    wait_for(lambda: "Comment recorded" in blocks_text(current(app, message).blocks))

    closed = run_command(app, ADMIN, "survey close pulse")
    assert "Round 1 of `pulse` is closed: 3 of 4 answered" in closed
    report = app.services.home.scheduled_work(datetime.now(UTC)).surveys
    assert report.digests.sent == 2
    digest = [m for m in app.workspace.messages(LEADS) if m.blocks]
    assert len(digest) == 1
    text = blocks_text(digest[0].blocks)
    assert "Team pulse, round 1" in text and "3 of 4 answered" in text
    assert "My workload is manageable." in text and "Average 4.0 / 5" in text
    assert "eNPS +33.3" in text and "Meetings" in text
    assert "Standups run long" not in text, "Alice's DM says she commented: the only comment"
    assert "1 comment is withheld" in text
    charts = [u for u in app.workspace.uploads() if u.data and u.data.startswith(b"\x89PNG")]
    assert len(charts) == 1 and charts[0].channels == (LEADS,)
    posted, uploaded = len(app.workspace.messages(LEADS)), len(app.workspace.uploads())
    assert app.services.home.scheduled_work(datetime.now(UTC)).surveys.digests.sent == 0
    assert (len(app.workspace.messages(LEADS)), len(app.workspace.uploads())) == (
        posted,
        uploaded,
    ), "posted once"


def test_app_home_shows_a_waiting_survey_until_it_is_answered(app: RunningApp) -> None:
    open_round(app, round_start())
    waiting = open_home(app, CAROL)
    assert "Team pulse" in waiting and "waiting for your answers" in waiting
    answer(app, CAROL, "focus", 2)
    assert "No survey waiting" in open_home(app, CAROL)
    assert "waiting for your answers" in open_home(app, BOB)
