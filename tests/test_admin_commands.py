"""Every admin-only `/lepton` command, derived from the parser so a new one cannot slip through:
refused to members with nothing changed, audited when an admin runs it, and checked against
Slack on every call, so someone demoted in Slack loses it at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.simulated_slack.payloads import Actor
from handlers.commands.parser import (
    ADMIN_ONLY,
    SURVEY_ACTIONS,
    SURVEY_FOR_EVERYONE,
    TRAIN_FOR_ADMINS,
)
from models import Assignment, AuditLog, SurveyRound, create_db_engine
from people.training.catalog import import_catalog
from tests.conftest import fresh_database
from tests.slack_app import TEAM, RunningApp, running_app, wait_for

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MEMBER, WORKSPACE_ADMIN, BOB = "UMEMBER01", "UWSADMIN1", "UBOB0001"

# What each admin command is run with, and the audit action it must leave. In run order:
# a round is started before it is shown, digested and closed.
ADMIN_LINES = {
    "stats": ("stats", "stats.view"),
    "gaps": ("gaps", "gaps.view"),
    "survey list": ("survey list", "survey.list"),
    "survey start": ("survey start pulse", "survey.start"),
    "survey show": ("survey show pulse", "survey.show"),
    "survey digest": ("survey digest pulse", "survey.digest"),
    "survey close": ("survey close pulse", "survey.close"),
    "train assign": (f"train assign <@{BOB}> kubernetes-101", "training.assign"),
    "train digest": ("train digest", "training.digest"),
}


def admin_commands() -> set[str]:
    return (
        set(ADMIN_ONLY)
        | {f"survey {a}" for a in SURVEY_ACTIONS if a not in SURVEY_FOR_EVERYONE}
        | {f"train {a}" for a in TRAIN_FOR_ADMINS}
    )


@pytest.fixture(scope="module")
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, embedder: Any
) -> Iterator[RunningApp]:
    with fresh_database("sqlite", request, tmp_path_factory) as url:
        engine = create_db_engine(url)
        try:
            with running_app(
                engine,
                tmp_path_factory.mktemp("admin"),
                embedder,
                lepton_surveys=EXAMPLES / "surveys.yml",
            ) as running:
                ws = running.workspace
                ws.add_user(MEMBER, "member")
                ws.add_user(WORKSPACE_ADMIN, "wsadmin", is_admin=True)
                ws.add_user(BOB, "bob")
                ws.add_channel("CGENERAL", "general", members=[MEMBER, WORKSPACE_ADMIN, BOB])
                import_catalog(running.services.home.sessions, EXAMPLES / "training.yml")
                yield running
        finally:
            engine.dispose()


def told(app: RunningApp, user: str, text: str) -> str:
    before = len(app.responses())
    assert app.command(Actor(TEAM, user, user.lower(), "CGENERAL"), text).status == 200
    wait_for(lambda: len(app.responses()) > before)
    reply = app.responses()[before]
    return str(reply.get("text") or reply.get("blocks"))


def state(app: RunningApp) -> tuple[int, int, int]:
    with app.services.home.sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(AuditLog)) or 0,
            session.scalar(select(func.count()).select_from(SurveyRound)) or 0,
            session.scalar(select(func.count()).select_from(Assignment)) or 0,
        )


def audits(app: RunningApp) -> list[tuple[str, str]]:
    with app.services.home.sessions() as session:
        rows = session.execute(select(AuditLog.actor, AuditLog.action).order_by(AuditLog.id))
        return [(actor, action) for actor, action in rows]


def test_every_admin_command_is_listed_here() -> None:
    assert set(ADMIN_LINES) == admin_commands()


def test_members_are_refused_every_admin_command_and_nothing_changes(app: RunningApp) -> None:
    for name, (line, _) in ADMIN_LINES.items():
        before = state(app)
        reply = told(app, MEMBER, line)
        assert f"`/lepton {name}` is for Lepton admins" in reply, reply
        assert state(app) == before, f"`{line}` from a member changed something"


def test_every_admin_command_is_audited_and_admin_rights_are_checked_on_every_call(
    app: RunningApp,
) -> None:
    for name, (line, action) in ADMIN_LINES.items():
        before = audits(app)
        reply = told(app, WORKSPACE_ADMIN, line)
        assert "is for Lepton admins" not in reply, f"{name}: {reply}"
        assert audits(app)[len(before) :] == [(WORKSPACE_ADMIN, action)], name

    app.workspace.add_user(WORKSPACE_ADMIN, "wsadmin", is_admin=False)
    for name, (line, _) in ADMIN_LINES.items():
        before = state(app)
        assert f"`/lepton {name}` is for Lepton admins" in told(app, WORKSPACE_ADMIN, line)
        assert state(app) == before
