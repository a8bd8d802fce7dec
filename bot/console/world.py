"""The console's world: the real Lepton app wired to a simulated workspace of three people,
with a clock of its own so `wait` can move on to the next nudge."""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from pathlib import Path

from pydantic import SecretStr
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from sqlalchemy import Engine

from bot.app import build_app
from bot.services import Services
from bot.settings import Settings
from bot.simulated_slack.payloads import SlackRequest
from bot.simulated_slack.server import LocalSlack
from bot.simulated_slack.shapes import EPOCH
from bot.simulated_slack.workspace import Workspace
from models.base import utcnow
from people.training.catalog import import_catalog
from people.training.schedule import next_nudge_due

TEAM = "T0LEPTON"
GENERAL = ("C0GENERAL", "general")
LEADS = ("C0LEADS", "people-leads")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_SURVEYS = EXAMPLES / "surveys.yml"
EXAMPLE_TRAINING = EXAMPLES / "training.yml"
PEOPLE = {
    "alice": ("UALICE", "Alice Adams", "Europe/Berlin"),
    "bob": ("UBOB", "Bob Brown", "America/New_York"),
    "carol": ("UCAROL", "Carol Chen", "Asia/Tokyo"),
}


def user_id(person: str) -> str:
    return PEOPLE[person][0]


class LocalLepton:
    """The real Bolt app and services, answering a simulated workspace instead of Slack."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.slack = LocalSlack()
        self.workspace = _workspace(self.slack)
        self.secret = secrets.token_hex(16)
        local = settings.model_copy(
            update={
                "slack_bot_token": SecretStr("xoxb-local-console"),
                "slack_signing_secret": SecretStr(self.secret),
                "slack_api_url": self.slack.base_url,
                "slack_client_id": None,
                "slack_client_secret": None,
                "lepton_admins": frozenset({user_id("alice")}),
                "lepton_surveys": settings.lepton_surveys or EXAMPLE_SURVEYS,
            }
        )
        self.clock = utcnow()
        self.services = Services(local, engine, clock=self.now)
        if not self.services.home.training.modules() and EXAMPLE_TRAINING.is_file():
            import_catalog(self.services.home.sessions, EXAMPLE_TRAINING)
        self.app = build_app(self.services, process_before_response=True)

    def now(self) -> datetime:
        """The real time, or later once `wait` has moved the console's clock on."""
        return max(utcnow(), self.clock)

    def dispatch(self, request: SlackRequest) -> BoltResponse:
        """Hand the app a request signed as Slack signs it, and take its HTTP answer."""
        return self.app.dispatch(
            BoltRequest(body=request.body, headers=request.headers(self.secret))
        )

    def run_scheduler(self) -> None:
        """What `lepton worker` would do, now; invitations due later (someone's 10:00, after a
        weekend) are sent at once, as if the clock had moved on to them."""
        now = self.now()
        for _ in range(len(PEOPLE) + 1):
            self.services.home.scheduled_work(now)
            due = self.services.home.surveys.next_invitation()
            if due is None:
                return
            now = max(now, due)

    def next_nudge(self) -> datetime | None:
        """When the next training nudge is due, if any is scheduled."""
        return next_nudge_due(self.services.home.sessions)

    def close(self) -> None:
        self.services.stopping.set()
        self.slack.close()


def _workspace(slack: LocalSlack) -> Workspace:
    """Alice, Bob and Carol in #general; only Alice (the admin) in #people-leads. Messages get
    today's timestamps, as in Slack, so a console started again on the same data never gives a
    new message the ts of an answer recorded in an earlier session."""
    workspace = Workspace(slack, team_id=TEAM)
    workspace.state.clock = (int(time.time()) - EPOCH) * 1_000_000
    for name, (person, real_name, tz) in PEOPLE.items():
        workspace.add_user(person, name, real_name, tz=tz)
    members = [person for person, _, _ in PEOPLE.values()]
    workspace.add_channel(GENERAL[0], GENERAL[1], members=members)
    workspace.add_channel(LEADS[0], LEADS[1], members=[user_id("alice")])
    return workspace
