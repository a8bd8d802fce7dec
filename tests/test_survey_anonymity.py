"""An attacker with the whole database, every log line and the posted digest tries to pick out
each respondent's answers after a round closes. They know who was asked, which channel (segment)
each person is in, and who answered; every respondent must stay hidden among at least the
anonymity threshold's number of answers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text

from bot import migrate
from bot.services import Services
from bot.settings import load_settings
from bot.simulated_slack.server import LocalSlack, Workspace
from models import SurveyDelivery
from tests.slack_app import blocks_text
from tests.test_surveys import World, invite_everyone

pytestmark = pytest.mark.both_backends

THRESHOLD = 3
TEAMS = {
    "eng": ["UENG1", "UENG2", "UENG3", "UENG4", "UENG5"],
    "design": ["UDES1"],
    "ops": ["UOPS1", "UOPS2"],
}
SURVEY = f"""
surveys:
  - key: pulse
    title: Pulse
    questions:
      - {{id: workload, text: "My workload was manageable."}}
    comment: Anything else?
    channels: ["#eng", "#design", "#ops"]
    segment_by_channel: true
    schedule: {{day_of_week: mon, week: "*/2"}}
    send_time: "10:00"
    window: 3d
    digest_channels: ["#people-leads"]
    anonymity_threshold: {THRESHOLD}
"""


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> Iterator[World]:
    with LocalSlack() as slack:
        workspace = Workspace(slack)
        everyone = [user for users in TEAMS.values() for user in users]
        for user in everyone:
            workspace.add_user(user, user.lower(), tz="Europe/Berlin")
        for n, (name, users) in enumerate(TEAMS.items()):
            workspace.add_channel(f"C0TEAM{n}", name, members=users)
        workspace.add_channel("C0LEADS", "people-leads", members=["UENG1"])
        surveys = tmp_path / "surveys.yml"
        surveys.write_text(SURVEY)
        migrate.upgrade(engine)
        settings = load_settings(
            None,
            lepton_data_dir=tmp_path / "data",
            slack_bot_token="xoxb-anonymity-tests",
            slack_signing_secret="secret",
            slack_api_url=slack.base_url,
            lepton_surveys=surveys,
        )
        yield World(slack, workspace, Services(settings, engine), engine)


def test_no_respondent_can_be_picked_out_of_the_database_logs_or_digest(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # the production level; DEBUG logs Slack request bodies
    opened = invite_everyone(world)
    choices = {user: 1 + n % 5 for n, user in enumerate(u for us in TEAMS.values() for u in us)}
    comments = {user: f"the reorg slowed us down, note {n}" for n, user in enumerate(choices)}
    for user, choice in choices.items():
        world.answer(user, opened, workload=choice)
        world.comment(user, opened, comments[user])
    world.services.home.surveys.close("pulse", opened)
    world.run(opened, 2)
    (closed,) = [r.id for r in world.services.home.surveys.rounds("pulse") if r.closed_at]

    with world.engine.connect() as conn:
        query = text("SELECT * FROM survey_responses WHERE round_id = :r")
        rows = conn.execute(query, {"r": closed})
        responses = [dict(r._mapping) for r in rows]
    with world.services.home.sessions() as session:
        segment_of = dict(
            session.execute(
                select(SurveyDelivery.user_id, SurveyDelivery.segment).where(
                    SurveyDelivery.round_id == closed
                )
            ).all()
        )
    assert len(responses) == len(choices)
    for user, segment in segment_of.items():
        candidates = [r for r in responses if r["segment"] in (segment, None)]
        assert len(candidates) >= THRESHOLD, (
            f"{user}'s answer is one of only {len(candidates)} rows their segment can match"
        )

    digests = [blocks_text(p.get("blocks")) for p in world.slack.calls_to("chat.postMessage")]
    digest = "\n".join(d for d in digests if "Pulse" in d and "answered" in d)
    assert digest, "the digest was posted"
    for name, users in TEAMS.items():
        if len(users) < THRESHOLD:
            assert f"*{name}*" not in digest, f"the digest singles out #{name}"
        assert not any(user in digest for user in users)

    logged = "\n".join(r.getMessage() for r in caplog.records)
    for user, comment in comments.items():
        assert comment not in logged, "a comment reached the logs"
        lines = [line for line in logged.splitlines() if user in line]
        assert not any("workload" in line or "answer" in line.lower() for line in lines), lines
