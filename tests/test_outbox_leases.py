"""Exactly once, whatever the timing: workers sharing one database, each sending at Slack's
pace (the `send` stands in for Slack and takes as long as a slow post), joining each other's
runs at the worst moments."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from bot import migrate
from models import Survey, SurveyDelivery, SurveyRound
from models.base import utcnow
from models.sending import SENT
from people.outbox import Delivered, dispatch
from tests.helpers import local_sessions

pytestmark = pytest.mark.both_backends


class SlowSlack:
    """Posts take `seconds` each; every post is counted by the row it was for."""

    def __init__(self, seconds: float, slowest: dict[int, float] | None = None) -> None:
        self.seconds, self.slowest = seconds, slowest or {}
        self.posts: Counter[int] = Counter()
        self.lock = threading.Lock()

    def send(self, row: SurveyDelivery, _retry: bool) -> Delivered:
        time.sleep(self.slowest.get(row.id, self.seconds))
        with self.lock:
            self.posts[row.id] += 1
        return Delivered(f"D{row.user_id}", f"{time.time():.6f}")


def invitations(engine: Engine, people: int) -> list[int]:
    """A round with one pending invitation per person, all due now."""
    migrate.upgrade(engine)
    now = utcnow()
    with local_sessions(engine)() as session, session.begin():
        survey = Survey(key="pulse", title="Pulse")
        session.add(survey)
        session.flush()
        round_ = SurveyRound(
            survey_id=survey.id, number=1, send_on=now.date().isoformat(), closes_at=now
        )
        session.add(round_)
        session.flush()
        rows = [
            SurveyDelivery(
                round_id=round_.id, user_id=f"U{n:04d}", not_before=now - timedelta(minutes=1)
            )
            for n in range(people)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def worker(engine: Engine, slack: SlowSlack, lease: timedelta, start_after: float) -> None:
    time.sleep(start_after)
    dispatch(local_sessions(engine), SurveyDelivery, utcnow(), slack.send, lease=lease)


def run_workers(engine: Engine, slack: SlowSlack, lease: timedelta, *starts: float) -> None:
    threads = [
        threading.Thread(target=worker, args=(engine, slack, lease, start)) for start in starts
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def sent(engine: Engine) -> list[str]:
    with local_sessions(engine)() as session:
        return list(session.scalars(select(SurveyDelivery.status)))


def test_a_worker_joining_late_in_a_long_run_sends_nobody_a_second_message(
    engine: Engine,
) -> None:
    """30 posts at 0.5 s with a 10 s lease: the first run takes 15 s, and a second worker
    joins at 11 s, when every claim dated from the start of the run would look abandoned."""
    ids = invitations(engine, 30)
    slack = SlowSlack(0.5)
    run_workers(engine, slack, timedelta(seconds=10), 0.0, 11.0)
    assert sorted(slack.posts) == sorted(ids)
    assert max(slack.posts.values()) == 1, (
        f"sent twice: {[i for i, n in slack.posts.items() if n > 1]}"
    )
    assert set(sent(engine)) == {SENT}


def test_a_post_slower_than_the_lease_keeps_its_claim(engine: Engine) -> None:
    """One post takes 5 s against a 2 s lease; workers starting meanwhile leave it alone."""
    ids = invitations(engine, 4)
    slack = SlowSlack(0.1, slowest={ids[0]: 5.0})
    run_workers(engine, slack, timedelta(seconds=2), 0.0, 2.5, 4.0)
    assert slack.posts == Counter(dict.fromkeys(ids, 1))


def test_two_workers_started_together_send_each_message_once(engine: Engine) -> None:
    ids = invitations(engine, 20)
    slack = SlowSlack(0.05)
    run_workers(engine, slack, timedelta(seconds=120), 0.0, 0.0)
    assert slack.posts == Counter(dict.fromkeys(ids, 1))


def test_a_claim_nobody_renews_is_taken_over(engine: Engine) -> None:
    """A worker killed mid-send stops renewing; after the lease the row goes out again (as a
    retry, which looks for the earlier copy first)."""
    (row_id,) = invitations(engine, 1)
    sessions = local_sessions(engine)
    dead_at = utcnow() - timedelta(seconds=30)
    with sessions() as session, session.begin():
        row = session.get_one(SurveyDelivery, row_id)
        row.status, row.claimed_at, row.attempts = "sending", dead_at, 1
    retries: list[bool] = []
    slack = SlowSlack(0.0)

    def send(row: SurveyDelivery, retry: bool) -> Delivered:
        retries.append(retry)
        return slack.send(row, retry)

    lease = timedelta(seconds=10)
    dispatch(sessions, SurveyDelivery, dead_at + timedelta(seconds=5), send, lease=lease)
    assert retries == [], "not before the lease ran out"
    dispatch(sessions, SurveyDelivery, utcnow(), send, lease=lease)
    assert retries == [True]
    assert sent(engine) == [SENT]
