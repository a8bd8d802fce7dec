"""Pulse surveys end to end on a frozen clock: the real scheduler pass (`Services.scheduled_work`)
against a simulated Slack workspace over HTTP, on SQLite and PostgreSQL. People in several time
zones are asked at their own 10:00, answer through the tokens in their own DM buttons, get one
reminder if they have not answered, and managers get a digest with a real chart."""

from __future__ import annotations

import itertools
import json
import logging
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, text, update

from bot import migrate
from bot.services import Services
from bot.settings import load_settings
from bot.simulated_slack.server import LocalSlack, Reply, Workspace
from models import (
    SurveyAnswer,
    SurveyDelivery,
    SurveyReminder,
    SurveySealedAnswers,
    create_db_engine,
)
from people.surveys.definitions import SurveyConfigError, load_surveys, parse_surveys
from people.surveys.lookups import SurveyError
from people.surveys.rounds import Member
from people.surveys.schedule import due_date, reminder_moment, send_moment
from tests.helpers import LEPTON, kill_after_posts, lepton_env
from tests.slack_app import wait_for

pytestmark = pytest.mark.both_backends

MONDAY = date(2026, 11, 30)
TOKYO, BERLIN, NEW_YORK = "Asia/Tokyo", "Europe/Berlin", "America/New_York"
PEOPLE = {"UAIKO": TOKYO, "UBEN": BERLIN, "UCARA": NEW_YORK, "UDAN": BERLIN}
LEADS = "C0LEADS"
SURVEY = """
surveys:
  - key: pulse
    title: Fortnightly pulse
    questions:
      - {id: workload, text: "My workload was manageable."}
      - {id: enps, kind: enps, text: "Would you recommend working here?"}
      - {id: focus, kind: choice, text: "What slowed you down?", labels: [Meetings, Tooling]}
    comment: Anything else?
    channels: ["#general"]
    schedule: {day_of_week: %(day)s, week: "*/2"}
    send_time: "10:00"
    window: 3d
    remind_before: 1d
    digest_channels: ["#people-leads"]
    anonymity_threshold: 3
"""


@dataclass
class World:
    slack: LocalSlack
    workspace: Workspace
    services: Services
    engine: Engine

    def tick(self, now: datetime) -> Any:
        return self.services.home.scheduled_work(now)

    def run(self, start: datetime, hours: int) -> None:
        for hour in range(hours + 1):
            self.tick(start + timedelta(hours=hour))

    def dm(self, user: str) -> list[Any]:
        return self.workspace.messages(self.workspace.dm_channel(user))

    def invitations(self, user: str) -> list[Any]:
        return [m for m in self.dm(user) if any(_values(m))]

    def answer(self, user: str, now: datetime, **answers: int) -> None:
        """Press buttons in the person's own invitation, as the Slack handler would."""
        (message,) = self.invitations(user)
        value = next(_values(message))
        for question, choice in answers.items():
            self.services.home.surveys.answers.record(
                value["r"],
                user,
                value["t"],
                now,
                answer=(question, choice),
                message=(message.channel, message.ts),
            )

    def comment(self, user: str, now: datetime, words: str) -> None:
        (message,) = self.invitations(user)
        value = next(_values(message))
        self.services.home.surveys.answers.record(
            value["r"], user, value["t"], now, comment=words, message=(message.channel, message.ts)
        )


def invite_everyone(world: World) -> datetime:
    """Open a round by hand early on MONDAY and run the day: everyone is asked at their 10:00.
    Returns a moment (Tuesday 12:00 UTC) when the round is open and everyone was asked."""
    start = datetime.combine(MONDAY, time(), UTC)
    world.services.home.surveys.start("pulse", start)
    world.run(start, 24)
    return start + timedelta(hours=36)


def _values(message: Any) -> Iterator[dict[str, Any]]:
    for block in message.blocks:
        for element in block.get("elements", []):
            if str(element.get("action_id", "")).startswith("survey_answer"):
                yield json.loads(element["value"])


def _world(
    engine: Engine, tmp_path: Path, slack: LocalSlack, day: str = "mon", **settings: Any
) -> World:
    workspace = Workspace(slack)
    for user, tz in PEOPLE.items():
        workspace.add_user(user, user.lower(), tz=tz)
    workspace.add_user("UBOT2", "otherbot", is_bot=True)
    workspace.add_user("UGONE", "gone", deleted=True)
    workspace.add_user("UELSE", "elsewhere", tz=BERLIN)
    workspace.add_channel("C0GENERAL", "general", members=(*PEOPLE, "UBOT2", "UGONE"))
    workspace.add_channel(LEADS, "people-leads", members=("UAIKO",))
    survey_file = tmp_path / "surveys.yml"
    survey_file.write_text(SURVEY % {"day": day})
    migrate.upgrade(engine)
    config = load_settings(
        None,
        lepton_data_dir=tmp_path / "data",
        slack_bot_token="xoxb-survey-tests",
        slack_signing_secret="secret",
        slack_api_url=slack.base_url,
        lepton_surveys=survey_file,
        lepton_send_lease_seconds=60,
        **settings,
    )
    return World(slack, workspace, Services(config, engine), engine)


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Iterator[World]:
    with LocalSlack() as slack:
        yield _world(engine, tmp_path, slack)


def local(moment: datetime, tz: str) -> datetime:
    return moment.astimezone(ZoneInfo(tz))


# Definitions and the calendar


def test_survey_file_problems_are_all_reported_with_where_they_are(tmp_path: Path) -> None:
    bad = tmp_path / "surveys.yml"
    bad.write_text(
        "surveys:\n  - key: pulse\n    title: Pulse\n    anonymity_threshold: 2\n"
        "    send_time: '22:00'\n    questions:\n      - {id: q, text: 'Fine', kind: stars}\n"
    )
    with pytest.raises(SurveyConfigError) as raised:
        load_surveys(bad)
    message = str(raised.value)
    assert "surveys[0].anonymity_threshold" in message
    assert "surveys[0].send_time" in message
    assert "surveys[0].questions[0].kind" in message
    toml = tmp_path / "surveys.toml"
    toml.write_text(
        '[[surveys]]\nkey = "pulse"\ntitle = "Pulse"\n'
        '[[surveys.questions]]\nid = "q"\ntext = "Fine?"\n'
    )
    (survey,) = load_surveys(toml)
    assert survey.anonymity_threshold == 5
    assert survey.questions[0].label(5) == "Strongly agree"


def test_people_are_asked_at_their_own_send_time_on_weekdays_only() -> None:
    saturday = date(2026, 11, 28)
    early = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)
    moment = send_moment(ZoneInfo(TOKYO), saturday, time(10), early)
    assert local(moment, TOKYO) == datetime(2026, 11, 30, 10, 0, tzinfo=ZoneInfo(TOKYO))
    after_hours = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)  # Monday 18:30 in New York
    moment = send_moment(ZoneInfo(NEW_YORK), MONDAY, time(10), after_hours)
    assert local(moment, NEW_YORK).date() == date(2026, 12, 1)
    assert local(moment, NEW_YORK).time() == time(10)
    during = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # Monday 11:00 in New York
    assert send_moment(ZoneInfo(NEW_YORK), MONDAY, time(10), during) == during


def test_schedule_opens_this_cycle_once_even_after_a_long_outage() -> None:
    (survey,) = parse_surveys(
        {
            "surveys": [
                {
                    "key": "pulse",
                    "title": "Pulse",
                    "questions": [{"id": "q", "text": "Fine?"}],
                    "schedule": {"day_of_week": "mon", "week": "*/2"},
                    "window": "3d",
                }
            ]
        }
    )
    assert survey.schedule is not None
    fortnight = survey.schedule.dates(date(2026, 11, 1), date(2026, 12, 31))
    assert all(d.weekday() == 0 for d in fortnight)
    assert all((b - a).days == 14 for a, b in itertools.pairwise(fortnight))
    first = fortnight[2]
    sunday_evening = datetime.combine(first, time(), UTC) - timedelta(hours=3)
    assert due_date(survey, None, sunday_evening) == first
    assert due_date(survey, first, sunday_evening) is None
    months_later = datetime.combine(fortnight[-1], time(12), UTC)
    assert due_date(survey, first, months_later) == fortnight[-1]
    too_late = datetime.combine(fortnight[-1] + timedelta(days=6), time(12), UTC)
    assert due_date(survey, first, too_late) is None


def test_reminders_wait_for_working_hours() -> None:
    closes = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    tokyo = reminder_moment(ZoneInfo(TOKYO), closes, timedelta(days=1), time(10))
    assert tokyo is not None and local(tokyo, TOKYO).time() == time(10)
    assert local(tokyo, TOKYO).date() == date(2026, 12, 3)
    assert reminder_moment(ZoneInfo(TOKYO), closes, timedelta(hours=3), time(10)) is None


# A whole round


def test_a_full_round_across_time_zones(world: World) -> None:
    start = datetime.combine(MONDAY, time(), UTC) - timedelta(hours=6)
    world.run(start, 30)
    for user, tz in PEOPLE.items():
        (invitation,) = world.invitations(user)
        with world.services.home.sessions() as session:
            sent = session.scalars(
                select(SurveyDelivery.sent_at).where(SurveyDelivery.user_id == user)
            ).one()
        assert local(sent, tz).date() == MONDAY
        assert local(sent, tz).time() == time(10), f"{user} asked at {local(sent, tz)}"
        assert "Fortnightly pulse" in invitation.text
    for nobody in ("UBOT2", "UGONE", "UELSE"):  # a bot, a deactivated account, a non-member
        assert world.dm(nobody) == [], nobody
    with world.services.home.sessions() as session:
        asked = set(session.scalars(select(SurveyDelivery.user_id)))
    assert asked == set(PEOPLE)

    tuesday = datetime.combine(MONDAY + timedelta(days=1), time(12), UTC)
    world.answer("UAIKO", tuesday, workload=4, enps=9, focus=0)
    world.answer("UBEN", tuesday, workload=2, enps=10)
    world.answer("UBEN", tuesday, workload=5)  # changed their mind
    world.answer("UCARA", tuesday, workload=3, enps=3, focus=1)
    world.comment("UCARA", tuesday, "Too many meetings this sprint, meetings everywhere")
    world.comment("UAIKO", tuesday, "Meetings ate my week")
    world.comment("UBEN", tuesday, "Fewer meetings would help")

    world.run(tuesday, 96)
    reminders = {u: [m for m in world.dm(u) if "reminder" in m.text.lower()] for u in PEOPLE}
    assert {u: len(r) for u, r in reminders.items()} == {
        "UAIKO": 0,
        "UBEN": 0,
        "UCARA": 0,
        "UDAN": 1,
    }
    with world.services.home.sessions() as session:
        (reminded_at,) = session.scalars(
            select(SurveyReminder.sent_at).where(SurveyReminder.status == "sent")
        ).all()
        answers = session.scalars(
            select(SurveyAnswer.value).where(SurveyAnswer.question == "workload")
        ).all()
        sealed = session.scalars(select(SurveySealedAnswers)).all()
    assert assert_working_hours(reminded_at, BERLIN)
    assert sorted(answers) == [3, 4, 5]
    assert sealed == [], "the sealed rows and their keys are gone at close"

    (summary, chart_message) = world.workspace.messages(LEADS)
    blocks = json.dumps(summary.blocks)
    assert "3 of 4 answered (75%)" in blocks
    assert "My workload was manageable." in blocks
    assert "4.0" in blocks  # (4 + 5 + 3) / 3
    assert "Meetings ate my week" in blocks
    assert "meetings" in blocks.lower()
    (upload,) = world.slack.uploads()
    assert upload.completed and upload.channels == (LEADS,)
    assert upload.data is not None and upload.data.startswith(b"\x89PNG")
    assert chart_message.files == (upload.file_id,)


def assert_working_hours(moment: datetime, tz: str) -> bool:
    there = local(moment, tz)
    return there.weekday() < 5 and time(10) <= there.time() < time(18)


def test_a_saturday_round_is_sent_on_monday(engine: Engine, tmp_path: Path) -> None:
    with LocalSlack() as slack:
        world = _world(engine, tmp_path, slack, day="sat")
        saturday = datetime.combine(MONDAY + timedelta(days=5), time(), UTC)  # an odd ISO week
        world.run(saturday, 72)
        with world.services.home.sessions() as session:
            sent = session.scalars(select(SurveyDelivery.sent_at)).all()
        assert len(sent) == len(PEOPLE)
        assert {s.astimezone(UTC).date() for s in sent} == {MONDAY + timedelta(days=7)}


def test_too_few_answers_show_nothing_but_the_response_rate(world: World) -> None:
    opened = invite_everyone(world)
    world.answer("UAIKO", opened, workload=1, enps=0)
    world.comment("UAIKO", opened, "My manager ignores everything I say")
    world.answer("UBEN", opened, workload=2)
    world.services.home.surveys.close("pulse", opened + timedelta(hours=1))
    world.tick(opened + timedelta(hours=1))
    (summary,) = world.workspace.messages(LEADS)
    shown = json.dumps(summary.blocks) + summary.text
    assert "2 of 4 answered" in shown
    assert "ignores" not in shown
    assert "1.5" not in shown and "workload" not in shown.lower()
    assert world.slack.uploads() == [], "no chart without a round that has enough answers"


def test_answers_are_refused_from_the_wrong_message_and_after_closing(world: World) -> None:
    opened = invite_everyone(world)
    (mine,) = world.invitations("UAIKO")
    value = next(_values(mine))
    surveys = world.services.home.surveys
    with pytest.raises(SurveyError, match="not sent to you"):
        surveys.answers.record(
            value["r"],
            "UBEN",
            value["t"],
            opened,
            answer=("workload", 1),
            message=(mine.channel, mine.ts),
        )
    with pytest.raises(SurveyError, match="not one of the choices"):
        world.answer("UAIKO", opened, workload=9)
    surveys.close("pulse", opened)
    with pytest.raises(SurveyError, match="closed"):
        world.answer("UAIKO", opened, workload=3)
    with world.services.home.sessions() as session:
        assert session.scalars(select(SurveyAnswer)).all() == []


def test_opted_out_people_are_not_asked_and_can_opt_back_in(world: World) -> None:
    surveys = world.services.home.surveys
    assert surveys.answers.opt_out("UBEN") and not surveys.answers.opt_out("UBEN")
    start = datetime.combine(MONDAY, time(), UTC)
    surveys.start("pulse", start)
    world.tick(start)  # planned: Ben is not in the audience
    surveys.answers.opt_out("UCARA")  # after planning, before her 10:00 in New York
    world.run(start, 24)
    assert world.invitations("UBEN") == [] and world.invitations("UCARA") == []
    assert len(world.invitations("UAIKO")) == 1
    assert surveys.answers.opt_in("UBEN")
    surveys.close("pulse", start + timedelta(days=1))
    next_week = start + timedelta(days=7)
    surveys.start("pulse", next_week)
    world.run(next_week, 24)
    assert len(world.invitations("UBEN")) == 1


# Faults: Slack errors, two workers, a killed worker


def test_slack_429_and_500_never_duplicate_or_drop_an_invitation(world: World) -> None:
    post = world.slack.handler("chat.postMessage")
    assert post is not None
    seen: dict[str, int] = {}

    def flaky(params: dict[str, Any]) -> dict[str, Any] | Reply:
        channel = str(params.get("channel"))
        seen[channel] = seen.get(channel, 0) + 1
        if channel == world.workspace.dm_channel("UAIKO") and seen[channel] == 1:
            return Reply(429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"})
        if channel == world.workspace.dm_channel("UBEN") and seen[channel] == 1:
            post(params)  # Slack posted it, then failed to say so
            return Reply(500, body={"ok": False, "error": "internal_error"})
        if channel == world.workspace.dm_channel("UCARA") and seen[channel] <= 2:
            return Reply(503, body={"ok": False, "error": "service_unavailable"})
        return post(params)

    world.slack.on("chat.postMessage", flaky)
    world.workspace.add_user("UNOPE", "nope")
    world.workspace.add_member("C0GENERAL", "UNOPE")
    open_dm = world.slack.handler("conversations.open")
    assert open_dm is not None

    def disabled(params: dict[str, Any]) -> dict[str, Any] | Reply:
        if params.get("users") == "UNOPE":
            return Reply(body={"ok": False, "error": "user_disabled"})
        return open_dm(params)

    world.slack.on("conversations.open", disabled)
    start = datetime.combine(MONDAY, time(), UTC)
    world.services.home.surveys.start("pulse", start)
    for minutes in range(0, 24 * 60, 10):
        world.tick(start + timedelta(minutes=minutes))
    for user in PEOPLE:
        assert len(world.invitations(user)) == 1, user
    info = world.services.home.surveys.rounds("pulse")[0]
    assert (info.asked, info.failed, info.pending) == (4, 1, 0)


def test_two_workers_at_once_send_each_invitation_once(engine: Engine, tmp_path: Path) -> None:
    with LocalSlack() as slack:
        world = _world(engine, tmp_path, slack)
        for n in range(30):
            world.workspace.add_user(f"UMANY{n:03d}", f"many{n}", tz=BERLIN)
            world.workspace.add_member("C0GENERAL", f"UMANY{n:03d}")
        opened = datetime.combine(MONDAY, time(14), UTC)  # 15:00 in Berlin
        world.services.home.surveys.start("pulse", opened)
        other_engine = create_db_engine(engine.url.render_as_string(hide_password=False))
        other = Services(world.services.settings, other_engine)
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def work(services: Services) -> None:
            try:
                barrier.wait()
                for minutes in range(3):
                    services.home.scheduled_work(opened + timedelta(minutes=minutes))
            except BaseException as error:
                errors.append(error)

        threads = [threading.Thread(target=work, args=(s,)) for s in (world.services, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
            assert not thread.is_alive()
        other_engine.dispose()
        assert errors == []
        everyone = ["UBEN", "UDAN", *(f"UMANY{n:03d}" for n in range(30))]
        assert {u: len(world.invitations(u)) for u in everyone} == dict.fromkeys(everyone, 1)


def test_a_claim_left_by_a_killed_worker_is_finished_without_a_second_message(
    world: World,
) -> None:
    """Posted, then the process died before writing it down: the next worker finds the
    message in Slack by its metadata instead of posting again."""
    opened = datetime.combine(MONDAY, time(16), UTC)  # Berlin 17:00, New York 11:00
    world.services.home.surveys.start("pulse", opened)
    post = world.slack.handler("chat.postMessage")
    assert post is not None

    def post_then_die(params: dict[str, Any]) -> dict[str, Any] | Reply:
        post(params)
        return Reply(500, body={"ok": False, "error": "internal_error"})

    world.slack.on("chat.postMessage", post_then_die)
    world.tick(opened)
    world.slack.on("chat.postMessage", post)
    with (
        world.services.home.sessions() as session
    ):  # as a worker killed right after posting left it
        session.execute(
            update(SurveyDelivery)
            .where(SurveyDelivery.attempts > 0)
            .values(status="sending", claimed_at=opened)
        )
        session.commit()
    world.tick(opened + timedelta(seconds=30))  # claims still fresh: nothing happens
    world.tick(opened + timedelta(minutes=2))
    for user in ("UBEN", "UCARA", "UDAN"):
        assert len(world.invitations(user)) == 1, user
    assert world.services.home.surveys.rounds("pulse")[0].asked == 3


def test_closed_answers_cannot_be_ordered_or_keyed_back_to_people(world: World) -> None:
    """People answer in an order unlike their answers' values; once closed, the stored rows
    follow their content, hold no key, and point at nothing but their round."""
    opened = invite_everyone(world)
    given = dict(zip(PEOPLE, (3, 1, 4, 2), strict=True))
    for user, value in given.items():
        world.answer(user, opened, workload=value)
    world.services.home.surveys.close("pulse", opened)
    with world.engine.connect() as conn:
        rows = [
            dict(r._mapping) for r in conn.execute(text("SELECT * FROM survey_answers ORDER BY id"))
        ]
        sealed = conn.execute(text("SELECT count(*) FROM survey_sealed_answers")).scalar_one()
    assert [r["value"] for r in rows] == [1, 2, 3, 4], "stored in the order of content"
    assert sealed == 0
    dump = json.dumps(rows, default=str)
    assert not any(user in dump for user in PEOPLE)
    assert set(rows[0]) == {
        "id",
        "round_id",
        "team_id",
        "enterprise_id",
        "question",
        "value",
        "segment",
    }


def test_a_worker_process_killed_mid_round_and_restarted_asks_everyone_once(
    engine: Engine, tmp_path: Path, db_url: str
) -> None:
    """Two real `lepton worker` processes; one is SIGKILLed right after Slack accepted an
    invitation and before it could record it, then started again."""
    with LocalSlack() as slack:
        world = _world(engine, tmp_path, slack)
        crowd = [f"UCROWD{n:03d}" for n in range(40)]
        for user in crowd:
            world.workspace.add_user(user, user.lower(), tz=BERLIN)
            world.workspace.add_member("C0GENERAL", user)
        now = datetime.now(UTC)
        surveys = world.services.home.surveys
        info = surveys.start("pulse", now)
        surveys.plan(info.id, _Everyone(crowd), now)
        with world.services.home.sessions() as session:  # due now, whatever the weekday
            session.execute(update(SurveyDelivery).values(not_before=now))
            session.commit()
        env = {
            "DATABASE_URL": db_url,
            "LEPTON_DATA_DIR": str(tmp_path / "data"),
            "LEPTON_SURVEYS": str(tmp_path / "surveys.yml"),
            "SLACK_BOT_TOKEN": "xoxb-survey-tests",
            "SLACK_API_URL": slack.base_url,
            "LEPTON_TICK_SECONDS": "1",
            "LEPTON_SEND_LEASE_SECONDS": "2",
        }
        victim: list[subprocess.Popen[str]] = []
        kill_after_posts(slack, 10, victim)
        workers = [_worker(env)]
        victim.append(workers[0])
        try:
            workers[0].wait(60)
            assert workers[0].returncode == -signal.SIGKILL
            with world.services.home.sessions() as session:
                left = session.scalars(
                    select(SurveyDelivery).where(SurveyDelivery.status == "sending")
                ).all()
            assert len(left) == 1, "Slack accepted an invitation the dead worker never recorded"
            workers = [_worker(env), _worker(env)]  # restarted, and a second one alongside
            wait_for(lambda: surveys.rounds("pulse")[0].asked == len(crowd), timeout=60)
        finally:
            for process in workers:
                process.kill()
                process.wait()
        assert {u: len(world.invitations(u)) for u in crowd} == dict.fromkeys(crowd, 1)
        with world.services.home.sessions() as session:
            statuses = set(session.scalars(select(SurveyDelivery.status)))
        assert statuses == {"sent"}


@dataclass(frozen=True)
class _Everyone:
    users: list[str]

    def audience(self, definition: Any) -> list[Member]:
        return [Member(user, BERLIN) for user in self.users]


def _worker(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(LEPTON), "worker"],
        env=lepton_env(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def test_a_survey_whose_channel_is_missing_tells_its_admins_once_and_waits(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The survey file names #launch, which nobody has created yet: nobody is asked, the listed
    admin gets one clear DM however many runs and workers see it, the log has one warning and
    no traceback, and once the channel exists the round starts for its members."""
    with LocalSlack() as slack:
        world = _world(engine, tmp_path, slack, lepton_admins="UAIKO")
        survey_file = tmp_path / "surveys.yml"
        survey_file.write_text(
            survey_file.read_text().replace('channels: ["#general"]', 'channels: ["#launch"]')
        )
        second = Services(world.services.settings, engine)  # a second worker, same database
        start = datetime.combine(MONDAY, time(9), UTC)
        world.services.home.surveys.start("pulse", start)
        for minutes in range(0, 180, 15):
            for services in (world.services, second):
                services.home.scheduled_work(start + timedelta(minutes=minutes))
        told = [m for m in world.dm("UAIKO") if "has not started" in m.text]
        assert len(told) == 1, [m.text for m in world.dm("UAIKO")]
        assert "#launch" in told[0].text and "does not exist" in told[0].text
        assert "/lepton survey close pulse" in told[0].text
        assert not any(world.invitations(user) for user in PEOPLE), "nobody was asked"
        warnings = [r for r in caplog.records if "cannot start" in r.getMessage()]
        assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
        assert not any(r.exc_info for r in caplog.records), "no traceback on every run"

        world.workspace.add_channel("C0LAUNCH", "launch", members=("UBEN", "UCARA"))
        later = datetime.combine(MONDAY + timedelta(days=1), time(16), UTC)  # 11:00 in NY
        restarted = Services(world.services.settings, engine)  # channels are listed afresh
        restarted.home.scheduled_work(later)
        assert [bool(world.invitations(u)) for u in ("UBEN", "UCARA", "UDAN")] == [
            True,
            True,
            False,
        ]
        assert len([m for m in world.dm("UAIKO") if "has not started" in m.text]) == 1
