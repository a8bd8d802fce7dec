"""Who is typing in the console, and sending what they do to the app as Slack would."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from slack_bolt.response import BoltResponse

from bot.console.screen import Screen
from bot.console.world import GENERAL, TEAM, LocalLepton, user_id
from bot.simulated_slack.payloads import Actor, SlackRequest


class Session:
    """The state the console's actions share: the app, the screen, the current person."""

    def __init__(self, lepton: LocalLepton, screen: Screen, echo: Callable[[str], None]) -> None:
        self.lepton = lepton
        self.workspace = lepton.workspace
        self.screen = screen
        self.echo = echo
        self.me = "alice"
        self.last_said: tuple[str, str] | None = None

    @property
    def user_id(self) -> str:
        return user_id(self.me)

    def actor(self, channel: str = GENERAL[0]) -> Actor:
        name = GENERAL[1] if channel == GENERAL[0] else "directmessage"
        return Actor(TEAM, self.user_id, self.me, channel, name)

    def send(self, request: SlackRequest, force_home: bool = False) -> None:
        """Deliver a request, run the scheduler as the worker would, and show what changed."""
        response = self.lepton.dispatch(request)
        self.lepton.run_scheduler()
        body = response_json(response)
        if response.status != 200:
            self.echo(f"(Slack would show an error: HTTP {response.status})")
        elif body.get("text") or body.get("blocks"):
            self.screen.show_reply(body)
        self.show(force_home)

    def show(self, force_home: bool = False) -> None:
        self.screen.show_new(self.me, force_home)

    def mark_seen(self) -> None:
        self.screen.mark_seen(self.me)


def response_json(response: BoltResponse) -> dict[str, Any]:
    """The app's HTTP answer as a JSON object; {} for an empty or non-JSON body."""
    try:
        loaded = json.loads(response.body) if response.body else {}
    except json.JSONDecodeError:
        return {}
    return loaded if isinstance(loaded, dict) else {}
