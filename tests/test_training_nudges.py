"""Training nudges and the weekly digest on a frozen clock: the real scheduler pass
(`Services.scheduled_work`) against a simulated Slack workspace over HTTP, on SQLite and
PostgreSQL. Nudges are spaced, arrive in each person's working hours, respect snoozes, stop at
completion, and go out once even when workers race or die."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, update

from bot import migrate
from bot.services import Services
from bot.settings import load_settings
from bot.simulated_slack.server import LocalSlack, Reply, Workspace
from models import Nudge, create_db_engine
from people.training.assignments import OpenAssignment
from people.training.catalog import import_catalog
from people.training.schedule import next_nudge

pytestmark = pytest.mark.both_backends

EXAMPLE_CATALOG = Path(__file__).resolve().parent.parent / "examples" / "training.yml"
MONDAY = date(2026, 11, 30)
TOKYO, BERLIN, NEW_YORK = "Asia/Tokyo", "Europe/Berlin", "America/New_York"
PEOPLE = {"UAIKO": TOKYO, "UBEN": BERLIN, "UCARA": NEW_YORK}
LEADS = "C0LEADS"


@dataclass
class World:
    slack: LocalSlack
    workspace: Workspace
    services: Services

    def run(self, start: datetime, hours: int) -> None:
        for hour in range(hours + 1):
            self.services.home.scheduled_work(start + timedelta(hours=hour))

    def nudges(self, user: str) -> list[Any]:
        dm = self.workspace.dm_channel(user)
        return [m for m in self.workspace.messages(dm) if m.text.startswith("Reminder:")]

    def sent_at(self, user: str) -> list[datetime]:
        with self.services.home.sessions() as session:
            return list(
                session.scalars(
                    select(Nudge.sent_at)
                    .where(Nudge.user_id == user, Nudge.status == "sent")
                    .order_by(Nudge.sent_at)
                )
            )


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Iterator[World]:
    with LocalSlack() as slack:
        workspace = Workspace(slack)
        for user, tz in PEOPLE.items():
            workspace.add_user(user, user.lower(), tz=tz)
        workspace.add_channel(LEADS, "people-leads", members=("UAIKO",))
        migrate.upgrade(engine)
        settings = load_settings(
            None,
            lepton_data_dir=tmp_path / "data",
            slack_bot_token="xoxb-training-tests",
            slack_signing_secret="secret",
            slack_api_url=slack.base_url,
            lepton_training_digest_channels="#people-leads",
            lepton_send_lease_seconds=60,
        )
        services = Services(settings, engine)
        import_catalog(services.home.sessions, EXAMPLE_CATALOG)
        yield World(slack, workspace, services)


def assign(world: World, user: str, module: str, due: date, at: datetime) -> None:
    world.services.home.training.assign(
        user, module, datetime.combine(due, time(23, 59), UTC), None, at
    )


def local(moment: datetime, tz: str) -> datetime:
    return moment.astimezone(ZoneInfo(tz))


def test_nudges_are_spaced_and_arrive_in_working_hours_across_time_zones(world: World) -> None:
    start = datetime.combine(MONDAY, time(), UTC) - timedelta(days=9)  # Saturday 21 Nov
    due = MONDAY + timedelta(days=4)  # Friday 4 Dec
    for user in PEOPLE:
        assign(world, user, "kubernetes-101", due, start)
    world.run(start, 24 * 30)
    for user, tz in PEOPLE.items():
        days = [local(s, tz) for s in world.sent_at(user)]
        assert [d.date() for d in days] == [
            date(2026, 11, 27),  # 7 days before
            date(2026, 12, 1),  # 3 days before
            date(2026, 12, 3),  # the day before
            date(2026, 12, 4),  # due
            date(2026, 12, 7),  # 1 day late, on Saturday: moved to Monday
            date(2026, 12, 11),  # 7 days late
            date(2026, 12, 18),  # 14 days late
        ], user
        assert all(d.weekday() < 5 and time(10) <= d.time() < time(17) for d in days), days
        assert len({d.date() for d in days}) == len(days), "never twice a day"
    (first, *_) = world.nudges("UBEN")
    assert "Kubernetes 101" in first.text and "due in 7 days" in first.text
    assert "was due" in world.nudges("UBEN")[-1].text


def test_one_nudge_a_day_however_many_assignments_are_due(world: World) -> None:
    start = datetime.combine(MONDAY, time(8), UTC)
    assign(world, "UBEN", "kubernetes-101", MONDAY + timedelta(days=3), start)
    assign(world, "UBEN", "incident-response", MONDAY + timedelta(days=3), start)
    world.run(start, 12)
    (nudge,) = world.nudges("UBEN")
    assert "other open training" in json.dumps(nudge.blocks)


def test_snoozed_training_waits_then_gets_one_nudge(world: World) -> None:
    start = datetime.combine(MONDAY, time(8), UTC)  # 09:00 in Berlin
    assign(world, "UBEN", "kubernetes-101", MONDAY + timedelta(days=3), start)
    world.run(start, 4)
    assert len(world.nudges("UBEN")) == 1
    [assignment] = [v for v in world.services.home.training.progress("UBEN", start)]
    snoozed_at = start + timedelta(hours=4)
    world.services.home.training.snooze("UBEN", assignment.assignment_id, 3, snoozed_at)
    world.run(snoozed_at, 24 * 6)
    days = [local(s, BERLIN) for s in world.sent_at("UBEN")]
    assert [d.date() for d in days] == [MONDAY, date(2026, 12, 3), date(2026, 12, 4)]
    assert days[1] >= snoozed_at + timedelta(days=3), "nothing while snoozed"
    assert "snooze is over" in json.dumps(world.nudges("UBEN")[1].blocks)


def test_nothing_after_completion_even_for_a_nudge_already_planned(world: World) -> None:
    start = datetime.combine(MONDAY, time(8), UTC)
    assign(world, "UBEN", "kubernetes-101", MONDAY + timedelta(days=3), start)
    world.run(start, 4)
    assert len(world.nudges("UBEN")) == 1
    with world.services.home.sessions() as session:
        assert session.scalars(select(Nudge).where(Nudge.status == "pending")).all()
    world.services.home.training.complete("UBEN", "kubernetes-101", start + timedelta(hours=5))
    world.run(start + timedelta(hours=5), 24 * 20)
    assert len(world.nudges("UBEN")) == 1


def test_workers_racing_or_dying_send_each_nudge_once(world: World, engine: Engine) -> None:
    start = datetime.combine(MONDAY, time(13), UTC)  # working hours in Berlin
    crowd = [f"UCROWD{n:03d}" for n in range(25)]
    for user in crowd:
        world.workspace.add_user(user, user.lower(), tz=BERLIN)
        assign(world, user, "kubernetes-101", MONDAY + timedelta(days=3), start)
    post = world.slack.handler("chat.postMessage")
    assert post is not None
    calls = {"n": 0}

    def sometimes_lost(params: dict[str, Any]) -> dict[str, Any] | Reply:
        calls["n"] += 1
        if calls["n"] % 5 == 0:  # refused: nothing posted
            return Reply(429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"})
        answer = post(params)
        if calls["n"] % 7 == 0:  # posted, but the worker never hears back
            return Reply(500, body={"ok": False, "error": "internal_error"})
        return answer

    world.slack.on("chat.postMessage", sometimes_lost)
    # Both threads run the same frozen minutes at their own pace: a lease longer than the test
    # keeps one from taking over the other's live claims; the "killed" claim below is older.
    settings = world.services.settings.model_copy(update={"lepton_send_lease_seconds": 3600})
    world.services.settings = settings
    other_engine = create_db_engine(engine.url.render_as_string(hide_password=False))
    other = Services(settings, other_engine)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work(services: Services) -> None:
        try:
            barrier.wait()
            for minutes in range(0, 30, 2):
                services.home.scheduled_work(start + timedelta(minutes=minutes))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(s,)) for s in (world.services, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
        assert not thread.is_alive()
    with world.services.home.sessions() as session:  # a worker killed mid-send left this claim
        session.execute(
            update(Nudge)
            .where(Nudge.user_id == crowd[0], Nudge.status == "sent")
            .values(status="sending", claimed_at=start - timedelta(hours=2))
        )
        session.commit()
    world.services.home.scheduled_work(start + timedelta(minutes=45))
    other_engine.dispose()
    assert errors == []
    assert {u: len(world.nudges(u)) for u in crowd} == dict.fromkeys(crowd, 1)
    with world.services.home.sessions() as session:
        first = session.scalars(select(Nudge.status).where(Nudge.user_id == crowd[0])).all()
        sending = session.scalars(select(Nudge).where(Nudge.status == "sending")).all()
    assert "sent" in first and sending == [], "the dead worker's claim was finished"


def test_the_weekly_digest_counts_without_naming_anyone(world: World) -> None:
    friday = datetime.combine(MONDAY - timedelta(days=3), time(12), UTC)
    assign(world, "UAIKO", "kubernetes-101", MONDAY + timedelta(days=5), friday)
    assign(world, "UBEN", "kubernetes-101", MONDAY - timedelta(days=1), friday)
    assign(world, "UCARA", "kubernetes-101", MONDAY + timedelta(days=5), friday)
    world.services.home.training.complete("UAIKO", "kubernetes-101", friday)
    world.services.home.scheduled_work(friday)
    assert world.workspace.messages(LEADS) == [], "too late in the week for its digest"
    monday = datetime.combine(MONDAY, time(9, 30), UTC)
    world.services.home.scheduled_work(monday)
    world.services.home.scheduled_work(monday + timedelta(hours=1))
    summary, chart = world.workspace.messages(LEADS)
    shown = json.dumps(summary.blocks)
    assert "Kubernetes 101" in shown and "1 of 3 done, 1 overdue" in shown
    assert not any(user in shown or user.lower() in shown for user in PEOPLE)
    (upload,) = world.slack.uploads()
    assert upload.data is not None and upload.data.startswith(b"\x89PNG")
    assert chart.files == (upload.file_id,)


def test_the_planner_moves_weekend_slots_to_monday_and_skips_taken_days() -> None:
    due = datetime(2026, 12, 4, 23, 59, tzinfo=UTC)  # Friday
    item = OpenAssignment("U1", 1, "k8s", "Kubernetes", due, None, False, False)
    saturday = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    plan = next_nudge([item], ZoneInfo(BERLIN), saturday)
    assert plan is not None and plan.local_day == date(2026, 12, 7) and plan.kind == "overdue"
    taken = frozenset({date(2026, 12, 7)})
    later = next_nudge([item], ZoneInfo(BERLIN), saturday, taken)
    assert later is not None and later.local_day == date(2026, 12, 11)
