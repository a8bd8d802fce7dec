"""Training through the real Slack app over HTTP: `/lepton train ...` for learners and admins,
the nudge DM's Done and Snooze buttons, Enrol on suggestions, the App Home's training list and
the weekly digest, with nudges and digests sent by the scheduler's real Slack couriers to the
simulated workspace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from bot.simulated_slack.payloads import Actor, block_action, event
from bot.simulated_slack.shapes import Message
from models import Assignment, AuditLog, QueryLog, TrainingModule
from people.training.catalog import import_catalog
from tests.slack_app import ADMIN, TEAM, RunningApp, blocks_text, running_app, settle, wait_for

ALICE, BOB, CAROL, DAVE = "UALICE01", "UBOB0001", "UCAROL01", "UDAVE001"
HELPER_BOT = "UHELPBOT1"
# At 12:00 UTC each of these is between 12:00 and 14:00 local, summer or winter: inside the
# nudge hours (10:00 to 17:00) for everyone.
ZONES = {ALICE: "UTC", BOB: "Europe/London", CAROL: "Europe/Berlin", DAVE: "Europe/Lisbon"}
GENERAL, LEADS, MANAGERS = "CGENERAL", "CLEADS01", "CMANAGRS"
CATALOG = Path(__file__).resolve().parent.parent / "examples" / "training.yml"
NAMES = {ALICE: "alice", BOB: "bob", CAROL: "carol", DAVE: "dave"}


def nudge_start() -> datetime:
    """The latest weekday 12:00 UTC before now: every zone above is then in working hours on a
    weekday, and it is at most three days behind the real clock the handlers use."""
    real = datetime.now(UTC)
    day = real.date()
    while True:
        moment = datetime.combine(day, time(12), UTC)
        if moment < real and moment.weekday() < 5:
            return moment
        day -= timedelta(days=1)


def due_in(now: datetime, days: int) -> datetime:
    """The end of the UTC day `days` after `now`'s."""
    return datetime.combine(now.date() + timedelta(days=days), time(23, 59), UTC)


@pytest.fixture
def extra_settings() -> dict[str, Any]:
    """Settings on top of the defaults; a test parametrizes this to change them."""
    return {}


@pytest.fixture
def app(
    engine: Engine, tmp_path: Path, embedder: Any, extra_settings: dict[str, Any]
) -> Iterator[RunningApp]:
    with running_app(engine, tmp_path / "data", embedder, **extra_settings) as running:
        ws = running.workspace
        for user, tz in ZONES.items():
            ws.add_user(user, NAMES[user], NAMES[user].title(), tz=tz)
        ws.add_user(ADMIN, "admin", tz="UTC")
        ws.add_user(HELPER_BOT, "helperbot", is_bot=True, bot_id="BHELPER", tz="UTC")
        ws.add_channel(GENERAL, "general", members=[*ZONES, ADMIN])
        ws.add_channel("CPLATFRM", "platform", members=[CAROL, DAVE, HELPER_BOT])
        ws.add_channel(LEADS, "training-leads", members=[ADMIN])
        ws.add_channel(MANAGERS, "managers", members=[ADMIN], bot_member=False)
        import_catalog(running.services.home.sessions, CATALOG)
        yield running


# Helpers


def actor(user: str, channel: str = GENERAL) -> Actor:
    return Actor(TEAM, user, user.lower(), channel)


def reply_text(reply: dict[str, Any]) -> str:
    return "\n".join([str(reply.get("text") or ""), blocks_text(reply.get("blocks") or [])])


def command_reply(app: RunningApp, user: str, text: str) -> dict[str, Any]:
    """`/lepton <text>` from #general; the first reply the person gets."""
    before = len(app.responses())
    assert app.command(actor(user), text).status == 200
    wait_for(lambda: len(app.responses()) > before)
    return app.responses()[before]


def run_command(app: RunningApp, user: str, text: str) -> str:
    return reply_text(command_reply(app, user, text))


def assignments(app: RunningApp, user: str) -> dict[str, Assignment]:
    """The person's assignments by module key."""
    with app.services.home.sessions() as session:
        rows = session.execute(
            select(Assignment, TrainingModule.key)
            .join(TrainingModule, TrainingModule.id == Assignment.module_id)
            .where(Assignment.user_id == user)
        ).all()
        session.expunge_all()
    return {key: row for row, key in rows}


def audit_rows(app: RunningApp) -> list[tuple[str, str, str | None]]:
    with app.services.home.sessions() as session:
        rows = session.execute(
            select(AuditLog.actor, AuditLog.action, AuditLog.target).order_by(AuditLog.id)
        ).all()
    return [tuple(r) for r in rows]


def assign(app: RunningApp, user: str, module: str, due: datetime, now: datetime) -> int:
    """Assign straight through the service (for a due date relative to the test's `now`)."""
    app.services.home.training.assign(user, module, due, ADMIN, now)
    return assignments(app, user)[module].id


def nudges(app: RunningApp, user: str) -> list[Message]:
    """The training nudges the bot sent the person, oldest first."""
    ws = app.workspace
    return [
        m
        for m in ws.messages(ws.dm_channel(user))
        if m.user == ws.bot_user_id and "training-nudge:" in json.dumps(m.metadata)
    ]


def current(app: RunningApp, message: Message) -> Message:
    return app.workspace.message(message.channel, message.ts)


def button(blocks: list[dict[str, Any]], action_id: str) -> tuple[str, dict[str, Any]]:
    """(block_id, button) for the button with this action id, in an actions block or beside a
    section."""
    for block in blocks:
        elements = block.get("elements", []) if block["type"] == "actions" else []
        if "accessory" in block:
            elements = [block["accessory"]]
        for element in elements:
            if element.get("action_id") == action_id:
                return str(block.get("block_id", "b1")), element
    raise AssertionError(f"no {action_id} button")


def press(
    app: RunningApp,
    user: str,
    message: Message,
    action_id: str,
    value: str | None = None,
    ephemeral: bool = False,
) -> None:
    """`user` presses a button of `message`, where it was posted."""
    block_id, found = button(message.blocks, action_id)
    ws = app.workspace
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": message.channel,
    }
    if ephemeral:
        container["is_ephemeral"] = True
    reply = app.send(
        block_action(
            actor(user, message.channel),
            {"action_id": action_id, "block_id": block_id, "value": value or found["value"]},
            container,
            ws.response_url(message.channel, user, message.ts),
            trigger_id=ws.trigger_id(user),
        )
    )
    assert reply.status == 200, reply.body


def open_lines(blocks: list[dict[str, Any]]) -> dict[str, str]:
    """Module key -> its line, for each open assignment listed with a Done button."""
    return {
        json.loads(b["accessory"]["value"])["m"]: b["text"]["text"]
        for b in blocks
        if b.get("accessory", {}).get("action_id") == "train_done"
    }


def publishes(app: RunningApp) -> int:
    return len(app.slack.calls_to("views.publish"))


def open_home(app: RunningApp, user: str) -> str:
    """The person opens the App Home; the text of its training part."""
    before = publishes(app)
    payload = {"type": "app_home_opened", "user": user, "tab": "home", "event_ts": "1.1"}
    assert app.send(event(TEAM, payload)).status == 200
    wait_for(lambda: publishes(app) > before)
    return training_part(app, user)


def training_part(app: RunningApp, user: str) -> str:
    home = app.workspace.home(user)
    assert home is not None
    text = blocks_text(home.view["blocks"])
    return text[text.index("Your training") : text.index("Suggested training")]


def home_blocks(app: RunningApp, user: str) -> list[dict[str, Any]]:
    home = app.workspace.home(user)
    assert home is not None
    return list(home.view["blocks"])


# Assigning


def test_admin_assigns_a_module_with_its_prerequisite(app: RunningApp) -> None:
    told = run_command(app, ADMIN, f"train assign <@{BOB}|bob> kubernetes-201 3d")
    due = due_in(datetime.now(UTC), 3)
    assert f"Assigned `kubernetes-201` to 1 of 1 person, due {due:%a %d %b}" in told
    mine = assignments(app, BOB)
    assert set(mine) == {"kubernetes-101", "kubernetes-201"}
    assert {a.due_at for a in mine.values()} == {due}
    assert {a.assigned_by for a in mine.values()} == {ADMIN}
    assert mine["kubernetes-101"].origin == "prerequisite:kubernetes-201"

    listed = command_reply(app, BOB, "train")["blocks"]
    lines = open_lines(listed)
    assert list(lines) == ["kubernetes-101", "kubernetes-201"]
    assert "Kubernetes 101" in lines["kubernetes-101"] and "needs" not in lines["kubernetes-101"]
    assert "Kubernetes 201" in lines["kubernetes-201"]
    assert "needs kubernetes-101 first" in lines["kubernetes-201"]
    assert f"is due in 3 days ({due:%a %d %b})" in lines["kubernetes-201"]
    assert "0 of 2 done" in blocks_text(listed)

    assert audit_rows(app) == [(ADMIN, "training.assign", "kubernetes-201")]


def test_a_member_cannot_assign(app: RunningApp) -> None:
    told = run_command(app, ALICE, f"train assign <@{BOB}> kubernetes-101 3d")
    assert "Sorry, `/lepton train assign` is for Lepton admins" in told
    assert "Sorry, `/lepton train digest` is for Lepton admins" in run_command(
        app, ALICE, "train digest"
    )
    settle(app, quiet=0.3)
    assert assignments(app, BOB) == {}
    assert audit_rows(app) == []


def test_assigning_a_channel_assigns_its_people_but_not_bots(app: RunningApp) -> None:
    told = run_command(app, ADMIN, "train assign #platform monitoring-101 2030-01-15")
    assert "Assigned `monitoring-101` to 2 of 2 people, due Tue 15 Jan" in told
    for user in (CAROL, DAVE):
        assert set(assignments(app, user)) == {"monitoring-101"}
        assert assignments(app, user)["monitoring-101"].due_at == datetime(
            2030, 1, 15, 23, 59, tzinfo=UTC
        )
    assert assignments(app, HELPER_BOT) == {}
    assert assignments(app, app.workspace.bot_user_id) == {}

    again = run_command(app, ADMIN, f"train assign <#{GENERAL}|general> git-workflow")
    assert "Assigned `git-workflow` to 5 of 5 people." in again
    for user in (*ZONES, ADMIN):
        assert "git-workflow" in assignments(app, user)
    assert [a[1:] for a in audit_rows(app)] == [
        ("training.assign", "monitoring-101"),
        ("training.assign", "git-workflow"),
    ]


def test_assigning_a_channel_lepton_cannot_see_says_so(app: RunningApp) -> None:
    app.workspace.add_channel(
        "CSECRET1", "secret", is_private=True, members=[BOB], bot_member=False
    )
    for target in ("#secret", "<#CSECRET1|secret>", "<#CNOSUCH1>"):
        told = run_command(app, ADMIN, f"train assign {target} kubernetes-101")
        shown = target.replace("<", "&lt;").replace(">", "&gt;")
        assert (
            f"I could not find `{shown}` in this workspace; mention a person or a channel of it."
            in told
        )
    settle(app, quiet=0.3)
    assert assignments(app, BOB) == {}
    assert audit_rows(app) == []


def test_assigning_an_unknown_module_suggests_the_right_one(app: RunningApp) -> None:
    told = run_command(app, ADMIN, f"train assign <@{BOB}> kubernets-201 3d")
    assert "Nobody was assigned anything" in told
    assert "Did you mean `kubernetes-201`?" in told
    assert "nobody-here" in run_command(app, ADMIN, "train assign @nobody-here kubernetes-101")
    settle(app, quiet=0.3)
    assert assignments(app, BOB) == {}
    assert audit_rows(app) == []


def test_a_bad_due_date_is_explained_and_nothing_assigned(app: RunningApp) -> None:
    told = run_command(app, ADMIN, f"train assign <@{BOB}> kubernetes-101 tomorrow")
    assert "`tomorrow` is not a due date; write 2026-12-01 or 7d." in told
    past = run_command(app, ADMIN, f"train assign <@{BOB}> kubernetes-101 2020-01-01")
    assert "2020-01-01 23:59 UTC is already past" in past
    settle(app, quiet=0.3)
    assert assignments(app, BOB) == {}
    assert audit_rows(app) == []


# The nudge DM


def test_done_on_a_nudge_completes_it_and_ends_the_nudges(app: RunningApp) -> None:
    now = nudge_start()
    for user in (ALICE, BOB):
        assign(app, user, "monitoring-101", due_in(now, 3), now)
    report = app.services.home.scheduled_work(now).training
    assert report is not None and report.nudges.sent == 2
    (nudge,) = nudges(app, ALICE)
    text = blocks_text(nudge.blocks)
    assert "Monitoring and alerting" in text and "is due in 3 days" in text
    assert {"Done", "Snooze 1 day", "Snooze 3 days", "Snooze 7 days", "Open"} <= set(
        text.splitlines()
    )
    assert button(nudge.blocks, "train_open")[1]["url"].endswith("/monitoring-101")

    press(app, ALICE, nudge, "train_open")
    settle(app, quiet=0.3)
    assert current(app, nudge).blocks == nudge.blocks, "Open only follows the link"
    press(app, ALICE, nudge, "train_done")
    wait_for(lambda: "Marked" in current(app, nudge).text)
    shown = current(app, nudge)
    assert shown.text == "Marked Monitoring and alerting done"
    assert "Marked *Monitoring and alerting* done" in blocks_text(shown.blocks)
    assert "train_snooze" not in json.dumps(shown.blocks), "the buttons are gone"
    completed = assignments(app, ALICE)["monitoring-101"].completed_at
    assert completed is not None
    assert abs(completed - datetime.now(UTC)) < timedelta(minutes=1)

    before = len(app.responses())
    press(app, ALICE, nudge, "train_snooze:1")  # a stale button from before the press
    wait_for(lambda: len(app.responses()) > before)
    told = app.responses()[before]
    assert "You already completed *Monitoring and alerting*; nothing to snooze." in told["text"]
    assert str(told.get("replace_original")).lower() in {"false", "none"}
    assert assignments(app, ALICE)["monitoring-101"].snoozed_until is None

    for day in range(1, 8):
        app.services.home.scheduled_work(now + timedelta(days=day))
    assert len(nudges(app, ALICE)) == 1, "no nudge about finished training"
    assert len(nudges(app, BOB)) > 1, "Bob, who did not finish, is nudged again"


def test_snooze_on_a_nudge_quiets_it_for_three_days(app: RunningApp) -> None:
    now = nudge_start()
    assign(app, CAROL, "monitoring-101", due_in(now, 3), now)
    app.services.home.scheduled_work(now)
    (nudge,) = nudges(app, CAROL)
    press(app, CAROL, nudge, "train_snooze:3")
    wait_for(lambda: "Snoozed" in current(app, nudge).text)
    until = assignments(app, CAROL)["monitoring-101"].snoozed_until
    assert until is not None
    assert abs(until - (datetime.now(UTC) + timedelta(days=3))) < timedelta(minutes=1)
    shown = blocks_text(current(app, nudge).blocks)
    assert f"Snoozed *Monitoring and alerting* until {until:%a %d %b}" in shown
    assert assignments(app, CAROL)["monitoring-101"].completed_at is None
    listed = open_lines(command_reply(app, CAROL, "train")["blocks"])
    assert f"snoozed until {until:%a %d %b}" in listed["monitoring-101"]

    woke = None
    for day in range(1, 12):
        for hour in (time(12), time(15, 30)):
            moment = datetime.combine(now.date() + timedelta(days=day), hour, UTC)
            app.services.home.scheduled_work(moment)
            if woke is None and len(nudges(app, CAROL)) > 1:
                woke = moment
    assert woke is not None and woke >= until, "quiet while snoozed"
    later = nudges(app, CAROL)[1:]
    assert "Your snooze is over." in blocks_text(later[0].blocks)
    assert "Monitoring and alerting" in later[0].text


def test_snoozing_someone_elses_assignment_is_refused(app: RunningApp) -> None:
    now = nudge_start()
    alices = assign(app, ALICE, "monitoring-101", due_in(now, 3), now)
    assign(app, BOB, "monitoring-101", due_in(now, 3), now)
    app.services.home.scheduled_work(now)
    (bobs,) = nudges(app, BOB)
    forged = json.dumps({"a": alices, "m": "monitoring-101"})
    before = len(app.responses())
    press(app, BOB, bobs, "train_snooze:7", value=forged)
    wait_for(lambda: len(app.responses()) > before)
    told = app.responses()[before]
    assert "That training assignment is not yours, so it was not snoozed." in told["text"]
    assert str(told.get("replace_original")).lower() in {"false", "none"}
    settle(app, quiet=0.3)
    assert assignments(app, ALICE)["monitoring-101"].snoozed_until is None
    assert assignments(app, BOB)["monitoring-101"].snoozed_until is None
    assert current(app, bobs).blocks == bobs.blocks, "Bob's nudge is untouched"


# Learners' commands


def test_join_done_and_modules_for_learners(app: RunningApp) -> None:
    joined = run_command(app, DAVE, "train join kubernetes-201")
    assert "Enrolled you in `kubernetes-201`." in joined
    assert "Its prerequisites come first: `kubernetes-101`" in joined
    mine = assignments(app, DAVE)
    assert set(mine) == {"kubernetes-101", "kubernetes-201"}
    assert {a.due_at for a in mine.values()} == {None}
    assert mine["kubernetes-201"].origin == "self"
    assert "already enrolled" in run_command(app, DAVE, "train join kubernetes-201")

    early = run_command(app, DAVE, "train done kubernetes-201")
    assert "Marked *Kubernetes 201* done" in early
    assert "prerequisites are still open: `kubernetes-101`" in early
    done = run_command(app, DAVE, "train done kubernetes-101")
    assert "Marked *Kubernetes 101* done" in done and "still open" not in done
    assert all(a.completed_at is not None for a in assignments(app, DAVE).values())
    assert "2 of 2 done" in run_command(app, DAVE, "train")

    assert "no training module `kubernetes-301`" in run_command(
        app, DAVE, "train done kubernetes-301"
    )
    modules = run_command(app, DAVE, "train modules")
    assert "• `kubernetes-101` Kubernetes 101" in modules
    assert "• `security-basics` Security basics" in modules
    assert modules.count("• `") == len(app.services.home.training.modules()) > 10
    assert "Did you mean `join`?" in run_command(app, DAVE, "train jion kubernetes-101")


def test_suggestions_follow_searches_and_enrol_in_one_click(app: RunningApp) -> None:
    assert app.command(actor(ALICE), "find how do I deploy to kubernetes").status == 200

    def searched() -> bool:
        with app.services.home.sessions() as session:
            return session.scalar(select(QueryLog.id).where(QueryLog.user_id == ALICE)) is not None

    wait_for(searched)
    settle(app, quiet=0.3)
    suggested = command_reply(app, ALICE, "train suggest")
    text = blocks_text(suggested["blocks"])
    assert "Kubernetes 101" in text
    _, enrol = button(suggested["blocks"], "train_enrol")
    assert json.loads(enrol["value"]) == {"m": "kubernetes-101"}, "the first course comes first"

    (shown,) = [
        m for m in app.workspace.ephemerals(GENERAL, ALICE) if "train_enrol" in json.dumps(m.blocks)
    ]
    before = len(app.responses())
    press(app, ALICE, shown, "train_enrol", ephemeral=True)
    wait_for(lambda: len(app.responses()) > before)
    assert "Enrolled you in `kubernetes-101`." in app.responses()[before]["text"]
    mine = assignments(app, ALICE)
    assert set(mine) == {"kubernetes-101"} and mine["kubernetes-101"].origin == "self"
    after = command_reply(app, ALICE, "train suggest")["blocks"]
    offered = [json.loads(b["accessory"]["value"])["m"] for b in after if "accessory" in b]
    assert "kubernetes-201" in offered
    assert "kubernetes-101" not in offered, "no suggestion for what the person already has"


# The App Home


def test_app_home_lists_training_and_done_there_completes_it(app: RunningApp) -> None:
    now = datetime.now(UTC)
    assign(app, BOB, "monitoring-101", due_in(now, 5), now)
    assign(app, BOB, "git-workflow", due_in(now, 9), now)
    shown = open_home(app, BOB)
    assert "Monitoring and alerting" in shown and "is due in 5 days" in shown
    assert "Git branching and commits" in shown and "0 of 2 done" in shown
    block_id, done = button(home_blocks(app, BOB), "train_done")
    assert json.loads(done["value"])["m"] == "monitoring-101", "the soonest due comes first"

    home = app.workspace.home(BOB)
    assert home is not None
    before = publishes(app)
    reply = app.send(
        block_action(
            actor(BOB),
            {"action_id": "train_done", "block_id": block_id, "value": done["value"]},
            {"type": "view", "view_id": home.id},
            None,
            trigger_id=app.workspace.trigger_id(BOB),
        )
    )
    assert reply.status == 200, reply.body
    wait_for(lambda: publishes(app) > before)
    assert assignments(app, BOB)["monitoring-101"].completed_at is not None
    again = training_part(app, BOB)
    assert "Monitoring and alerting" not in again
    assert "Git branching and commits" in again and "1 of 2 done" in again
    assert list(open_lines(home_blocks(app, BOB))) == ["git-workflow"]


def test_enrol_from_the_app_home_dms_and_refreshes_it(app: RunningApp) -> None:
    app.services.home.training.complete(BOB, "monitoring-101", datetime.now(UTC))
    app.services.home.training.complete(CAROL, "monitoring-101", datetime.now(UTC))
    app.services.home.training.complete(CAROL, "incident-response", datetime.now(UTC))
    open_home(app, DAVE)
    block_id, enrol = button(home_blocks(app, DAVE), "train_enrol")
    key = json.loads(enrol["value"])["m"]
    home = app.workspace.home(DAVE)
    assert home is not None
    before = publishes(app)
    reply = app.send(
        block_action(
            actor(DAVE),
            {"action_id": "train_enrol", "block_id": block_id, "value": enrol["value"]},
            {"type": "view", "view_id": home.id},
            None,
            trigger_id=app.workspace.trigger_id(DAVE),
        )
    )
    assert reply.status == 200, reply.body
    wait_for(lambda: publishes(app) > before)
    assert key in assignments(app, DAVE)
    dm = [m for m in app.workspace.messages(DAVE) if m.user == app.workspace.bot_user_id]
    assert len(dm) == 1 and f"Enrolled you in `{key}`." in dm[0].text
    assert key in open_lines(home_blocks(app, DAVE)), "the home lists it as Dave's now"


def test_app_home_without_training_says_so(app: RunningApp) -> None:
    assert "No training assigned to you" in open_home(app, CAROL)


# Digests


def test_admin_digest_shows_counts_and_names_nobody(app: RunningApp) -> None:
    now = datetime.now(UTC)
    for user in (ALICE, BOB, CAROL):
        assign(app, user, "kubernetes-101", due_in(now, 4), now)
    app.services.home.training.complete(ALICE, "kubernetes-101", now)
    app.services.home.training.join(DAVE, "monitoring-101", now)
    digest = command_reply(app, ADMIN, "train digest")
    text = reply_text(digest)
    week = f"{now.isocalendar().year}-W{now.isocalendar().week:02d}"
    assert f"Training, week {week}" in text
    assert "4 people · 4 assigned · 1 done (25%) · 0 overdue" in text
    assert "*Kubernetes 101*: 1 of 3 done" in text
    assert "*Monitoring and alerting*: 0 of 1 done" in text
    for user, name in NAMES.items():
        assert user not in text and name not in text.lower()
    assert audit_rows(app) == [(ADMIN, "training.digest", None)]


def last_monday() -> datetime:
    today = datetime.now(UTC).date()
    return datetime.combine(today - timedelta(days=today.weekday()), time(9, 30), UTC)


@pytest.mark.parametrize("extra_settings", [{"lepton_training_digest_channels": "#training-leads"}])
def test_weekly_digest_posts_a_summary_and_a_chart_once(app: RunningApp) -> None:
    monday = last_monday()
    training = app.services.home.training
    before = monday - timedelta(days=2)
    for user in (ALICE, BOB, CAROL):
        training.assign(user, "kubernetes-201", due_in(monday, 10), ADMIN, before)
    # Overdue at the digest: assigned over a week earlier, due two days before.
    training.assign(DAVE, "git-workflow", before, ADMIN, monday - timedelta(days=9))
    training.complete(ALICE, "kubernetes-101", monday - timedelta(hours=1))

    assert app.services.home.scheduled_work(monday - timedelta(hours=1)).training is not None
    assert not app.workspace.messages(LEADS), "nothing before Monday 09:00 UTC"

    report = app.services.home.scheduled_work(monday).training
    assert report is not None and report.digests.sent == 2
    summaries = [m for m in app.workspace.messages(LEADS) if m.blocks]
    assert len(summaries) == 1
    text = blocks_text(summaries[0].blocks)
    week = f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}"
    assert f"Training, week {week}" in text
    assert "4 people · 7 assigned · 1 done (14%) · 1 overdue" in text
    assert "*Kubernetes 101*: 1 of 3 done" in text and "*Git branching and commits*" in text
    for user, name in NAMES.items():
        assert user not in text and name not in text.lower()
    charts = [u for u in app.workspace.uploads() if u.data and u.data.startswith(b"\x89PNG")]
    assert len(charts) == 1 and charts[0].channels == (LEADS,)
    posted = len(app.workspace.messages(LEADS))

    again = app.services.home.scheduled_work(monday + timedelta(hours=2)).training
    assert again is not None and again.digests.sent == 0
    assert len(app.workspace.messages(LEADS)) == posted
    assert len(app.workspace.uploads()) == 1


@pytest.mark.parametrize("extra_settings", [{"lepton_training_digest_channels": "managers"}])
def test_weekly_digest_joins_a_public_channel_it_is_not_in(app: RunningApp) -> None:
    monday = last_monday()
    app.services.home.training.assign(BOB, "git-workflow", due_in(monday, 5), ADMIN, monday)
    report = app.services.home.scheduled_work(monday).training
    assert report is not None and report.digests.sent == 2
    assert app.workspace.bot_user_id in app.workspace.channel(MANAGERS).members
    summaries = [m for m in app.workspace.messages(MANAGERS) if m.blocks]
    assert len(summaries) == 1
    assert "1 person · 1 assigned · 0 done (0%) · 0 overdue" in blocks_text(summaries[0].blocks)
    charts = [u for u in app.workspace.uploads() if u.data and u.data.startswith(b"\x89PNG")]
    assert len(charts) == 1 and charts[0].channels == (MANAGERS,)
