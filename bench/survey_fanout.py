"""Survey fan-out: a round sent to N people through the real scheduler pass and Slack couriers,
against the local Slack Web API stand-in answering 429 with Retry-After now and then.

    python -m bench.survey_fanout            # 500 people
    python -m bench.survey_fanout --full     # 5,000 people

Reports the time until everyone has their invitation, the calls made, the 429s, and checks
that every person got exactly one DM.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update

from bench.report import record
from bot import migrate
from bot.services import Services
from bot.settings import load_settings
from bot.simulated_slack.server import LocalSlack, Reply, Workspace
from models import SurveyDelivery, create_db_engine

SURVEY = """
surveys:
  - key: pulse
    title: Fan-out pulse
    questions:
      - {id: workload, text: "My workload was manageable."}
    channels: ["#everyone"]
    anonymity_threshold: 5
"""
THROTTLE_EVERY = 250
RETRY_AFTER = "1"


def run(people: int, directory: Path) -> list[str]:
    with LocalSlack() as slack:
        workspace = Workspace(slack)
        ids = [f"U{n:07d}" for n in range(people)]
        for user in ids:
            workspace.add_user(user, user.lower(), tz="UTC")
        workspace.add_channel("C0EVERYONE", "everyone", members=ids)
        post = slack.handler("chat.postMessage")
        assert post is not None
        lock, seen = threading.Lock(), Counter[str]()

        def throttled(params: dict[str, Any]) -> dict[str, Any] | Reply:
            with lock:
                seen["calls"] += 1
                if seen["calls"] % THROTTLE_EVERY == 0:
                    seen["429"] += 1
                    return Reply(
                        429, {"Retry-After": RETRY_AFTER}, {"ok": False, "error": "ratelimited"}
                    )
            return post(params)

        slack.on("chat.postMessage", throttled)
        survey_file = directory / "surveys.yml"
        survey_file.write_text(SURVEY)
        engine = create_db_engine(f"sqlite:///{directory / 'lepton.db'}")
        migrate.upgrade(engine)
        settings = load_settings(
            None,
            lepton_data_dir=directory / "data",
            slack_bot_token="xoxb-bench",
            slack_signing_secret="bench",
            slack_api_url=slack.base_url,
            lepton_surveys=survey_file,
        )
        services = Services(settings, engine)
        now = datetime.now(UTC)
        info = services.home.surveys.start("pulse", now)
        started = time.perf_counter()
        services.home.scheduled_work(now)  # plans the audience
        with services.home.sessions() as session:  # due now whatever the weekday: we time sending
            session.execute(update(SurveyDelivery).values(not_before=now))
            session.commit()
        ticks = 0
        while services.home.surveys.round(info.id).asked < people:
            ticks += 1
            services.home.scheduled_work(datetime.now(UTC))
        elapsed = time.perf_counter() - started
        dms = [workspace.messages(workspace.dm_channel(u)) for u in ids]
        once = sum(1 for messages in dms if len(messages) == 1)
        engine.dispose()
    return [
        f"- people: {people}; invitations delivered: {once} exactly once, "
        f"{people - once} not exactly once",
        f"- time from start to the last invitation: {elapsed:.1f} s "
        f"({people / elapsed:.0f} invitations/s), {ticks} scheduler passes",
        f"- chat.postMessage calls: {seen['calls']}, of which 429 (Retry-After {RETRY_AFTER} s): "
        f"{seen['429']}",
        "- in-process scheduler on SQLite; Slack stand-in on loopback (each invitation is a "
        "conversations.open and a chat.postMessage)",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="5,000 people instead of 500")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        lines = run(5000 if args.full else 500, Path(scratch))
    record("survey_fanout", lines)


if __name__ == "__main__":
    main()
