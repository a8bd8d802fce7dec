"""`lepton console`: a terminal "Slack" for trying Lepton without a workspace.

It runs the real Bolt app against a simulated workspace (`bot.simulated_slack.workspace`):
what a person types becomes the signed, Slack-shaped request Slack would send (a slash command,
an event, a button press, a modal submission), and what the app does through the Web API is read
back from the workspace and printed as text.

The pieces: `parse` reads a line, `Messaging` and `Controls` (bot.console.actions) act on it
through a `Session`, `Screen` prints what is new, and `LocalLepton` (bot.console.world) is the
app wired to the simulated workspace. `Console` is the loop that joins them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from sqlalchemy import Engine

from bot.console.actions import Controls, Messaging
from bot.console.parse import Kind, Typed, parse
from bot.console.screen import Screen
from bot.console.session import Session
from bot.console.world import PEOPLE, LocalLepton
from bot.services import Services
from bot.settings import Settings

PROMPT = "you> "
HELP = """Try:  /lepton find tensorflow 2.0   @lepton how do I deploy to k8s?   dm <question>
      /lepton find -p <question> (only you see it; press Share to channel to post it)
      :+1: or :-1: (react to the last answer; -:+1: takes it back)   press 1 (or just 1)
      say <message>, then save (Save to Lepton)   /lepton add   home   as bob   help   quit
      /lepton survey start pulse (alice is an admin), answer with press N as each person,
      /lepton survey close pulse: the digest goes to #people-leads
      /lepton train assign @bob kubernetes-101 10d, as bob, wait (the clock moves on to the
      next nudge: press Done or Snooze), /lepton train, /lepton train suggest
In a modal: <field>: <value> (e.g. title: VPN setup, or channel: general), submit, cancel.
The scheduler runs after every line; survey invitations go out at once."""


class Console:
    """One console session: every person starts having seen the empty workspace, as Alice."""

    def __init__(self, settings: Settings, engine: Engine, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.lepton = LocalLepton(settings, engine)
        self.screen = Screen(self.lepton.workspace, self.lepton.slack, echo)
        for name in PEOPLE:
            self.screen.mark_seen(name)
        self.session = Session(self.lepton, self.screen, echo)
        messaging, controls = Messaging(self.session), Controls(self.session)
        self._actions: dict[Kind, Callable[[Typed], None]] = {
            "help": lambda _: self.echo(HELP),
            "as": lambda typed: controls.switch(typed.argument),
            "press": lambda typed: controls.press(typed.argument),
            "field": lambda typed: controls.set_field(typed.argument, typed.value),
            "submit": lambda _: controls.submit(),
            "cancel": lambda _: controls.cancel(),
            "wait": lambda _: controls.wait(),
            "command": lambda typed: messaging.command(typed.argument),
            "mention": lambda typed: messaging.mention(typed.argument),
            "dm": lambda typed: messaging.dm(typed.argument),
            "say": lambda typed: messaging.say(typed.argument),
            "save": lambda _: messaging.save(),
            "home": lambda _: messaging.home(),
            "react": lambda typed: messaging.react(typed.argument),
        }

    @property
    def services(self) -> Services:
        return self.lepton.services

    @property
    def me(self) -> str:
        """Who is typing now (`as <name>` changes it)."""
        return self.session.me

    def handle(self, line: str) -> bool:
        """Act on one input line; False ends the session."""
        modal = self.screen.modal
        typed = parse(line, modal.values if modal else None)
        if typed.kind == "quit":
            return False
        if typed.kind == "blank":
            return True
        self.screen.renderer.new_turn()
        self._actions[typed.kind](typed)
        return True

    def close(self) -> None:
        self.lepton.close()


class EmptyKnowledge(Exception):
    """Nothing to search yet: the console would only ever say "nothing found"."""


def run(
    settings: Settings,
    engine: Engine,
    lines: Iterable[str],
    echo: Callable[[str], None],
    show_input: bool,
) -> None:
    if settings.log_level != "DEBUG":
        for name in ("slack_bolt", "slack_sdk", "indexer", "bot", "handlers"):
            logging.getLogger(name).setLevel(logging.WARNING)
    console = Console(settings, engine, echo)
    try:
        if len(console.services.home.knowledge.index) == 0:
            raise EmptyKnowledge
        console.services.warm_up()
        echo(f"Lepton console: you are {console.me} in #general of a local workspace.")
        echo(HELP)
        for line in lines:
            if show_input:
                echo(f"{PROMPT}{line.rstrip()}")
            if not console.handle(line):
                break
    finally:
        console.close()
