"""`lepton console`: a terminal "Slack" for trying Lepton without a workspace.

It runs the real Bolt app against a simulated workspace (`bot.simulated_slack.workspace`):
what a person types becomes the signed, Slack-shaped request Slack would send (a slash command,
an event, a button press, a modal submission), and what the app does through the Web API is read
back from the workspace and printed as text.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from slack_bolt.request import BoltRequest
from sqlalchemy import Engine

from bot.app import build_app
from bot.console.render import Button, Renderer
from bot.services import Services
from bot.settings import Settings
from bot.simulated_slack.payloads import (
    Actor,
    SlackRequest,
    block_action,
    command,
    event,
    message_shortcut,
    unique_id,
    view_submission,
)
from bot.simulated_slack.server import LocalSlack, View
from bot.simulated_slack.workspace import Workspace
from handlers.knowledge.saving import SAVE_SHORTCUT
from models.base import utcnow
from people.training.catalog import import_catalog
from people.training.schedule import next_nudge_due

PROMPT = "you> "
TEAM = "T0LEPTON"
GENERAL = ("C0GENERAL", "general")
LEADS = ("C0LEADS", "people-leads")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXAMPLE_SURVEYS = EXAMPLES / "surveys.yml"
EXAMPLE_TRAINING = EXAMPLES / "training.yml"
PEOPLE = {
    "alice": ("UALICE", "Alice Adams", "Europe/Berlin"),
    "bob": ("UBOB", "Bob Brown", "America/New_York"),
    "carol": ("UCAROL", "Carol Chen", "Asia/Tokyo"),
}
HELP = """Try:  /lepton find tensorflow 2.0   @lepton how do I deploy to k8s?   dm <question>
      :+1: or :-1: (react to the last answer; -:+1: takes it back)   press 1 (or just 1)
      say <message>, then save (Save to Lepton)   /lepton add   home   as bob   help   quit
      /lepton survey start pulse (alice is an admin), answer with press N as each person,
      /lepton survey close pulse: the digest goes to #people-leads
      /lepton train assign @bob kubernetes-101 10d, as bob, wait (the clock moves on to the
      next nudge: press Done or Snooze), /lepton train, /lepton train suggest
In a modal: <field>: <value> (e.g. title: VPN setup), submit, cancel.
The scheduler runs after every line; survey invitations go out at once."""


@dataclass
class _Modal:
    view: View
    values: dict[str, str]


class Console:
    def __init__(self, settings: Settings, engine: Engine, echo: Callable[[str], None]) -> None:
        self.echo = echo
        self.slack = LocalSlack()
        self.workspace = Workspace(self.slack, team_id=TEAM)
        for name, (user_id, real_name, tz) in PEOPLE.items():
            self.workspace.add_user(user_id, name, real_name, tz=tz)
        members = [user_id for user_id, _, _ in PEOPLE.values()]
        self.workspace.add_channel(GENERAL[0], GENERAL[1], members=members)
        self.workspace.add_channel(LEADS[0], LEADS[1], members=[PEOPLE["alice"][0]])
        self.secret = secrets.token_hex(16)
        local = settings.model_copy(
            update={
                "slack_bot_token": SecretStr("xoxb-local-console"),
                "slack_signing_secret": SecretStr(self.secret),
                "slack_api_url": self.slack.base_url,
                "slack_client_id": None,
                "slack_client_secret": None,
                "lepton_admins": frozenset({PEOPLE["alice"][0]}),
                "lepton_surveys": settings.lepton_surveys or EXAMPLE_SURVEYS,
            }
        )
        self.clock = utcnow()
        self.services = Services(local, engine, clock=self.now)
        if not self.services.training.modules() and EXAMPLE_TRAINING.is_file():
            import_catalog(self.services.sessions, EXAMPLE_TRAINING)
        self.app = build_app(self.services, process_before_response=True)
        self.me = "alice"
        self.renderer = Renderer(self._name_of)
        self.modal: _Modal | None = None
        self.last_said: tuple[str, str] | None = None
        self._seen_by: dict[str, dict[str, Any]] = {}
        for name in PEOPLE:
            self.me = name
            self._seen = self._snapshot()
        self.me = "alice"

    def close(self) -> None:
        self.services.stopping.set()
        self.slack.close()

    @property
    def _seen(self) -> dict[str, Any]:
        """What the current person has already been shown; `as bob` shows bob what is new."""
        return self._seen_by[self.me]

    @_seen.setter
    def _seen(self, snapshot: dict[str, Any]) -> None:
        self._seen_by[self.me] = snapshot

    @property
    def user_id(self) -> str:
        return PEOPLE[self.me][0]

    def actor(self, channel: str = GENERAL[0]) -> Actor:
        name = GENERAL[1] if channel == GENERAL[0] else "directmessage"
        return Actor(TEAM, self.user_id, self.me, channel, name)

    def handle(self, line: str) -> bool:
        """Act on one input line; False ends the session."""
        text = line.strip()
        lowered = text.lower()
        if lowered in {"quit", "exit", ":q"}:
            return False
        if not text:
            return True
        self.renderer.new_turn()
        if lowered == "help":
            self.echo(HELP)
        elif lowered.startswith("as "):
            self._switch(lowered[3:].strip())
        elif lowered.startswith("press ") or lowered.isdigit():
            self._press(lowered.removeprefix("press ").strip())
        elif self.modal and (lowered in {"submit", "cancel"} or self._field(text)):
            self._modal_input(text)
        elif lowered.startswith("/lepton"):
            self._command(text[len("/lepton") :].strip())
        elif lowered.startswith("@lepton"):
            self._mention(text[len("@lepton") :].strip())
        elif lowered.startswith("dm "):
            self._dm(text[3:].strip())
        elif lowered.startswith("say "):
            self._say(text[4:].strip())
        elif lowered == "save":
            self._save()
        elif lowered == "home":
            self._home()
        elif lowered == "wait":
            self._wait()
        elif text.startswith((":", "-:")) and text.endswith(":"):
            self._react(text)
        else:
            self._command(text)
        return True

    def _switch(self, name: str) -> None:
        if name not in PEOPLE:
            self.echo(f"(there is no {name!r} here; people: {', '.join(PEOPLE)})")
            return
        self.me = name
        self.modal = None
        self.echo(f"(you are now {name})")
        self._render()

    def _command(self, text: str) -> None:
        ws = self.workspace
        request = command(
            self.actor(),
            text,
            ws.response_url(GENERAL[0], self.user_id),
            ws.trigger_id(self.user_id),
        )
        self._send(request)

    def _mention(self, text: str) -> None:
        message = self.workspace.post_user_message(
            GENERAL[0], self.user_id, f"<@{self.workspace.bot_user_id}> {text}"
        )
        self._seen = self._snapshot()
        self.echo(f"#general  {self.me}: @lepton {text}")
        payload = {
            "type": "app_mention",
            "user": self.user_id,
            "text": message.text,
            "ts": message.ts,
            "channel": GENERAL[0],
            "event_ts": message.ts,
        }
        self._send(event(TEAM, payload))

    def _dm(self, text: str) -> None:
        dm = self.workspace.dm_channel(self.user_id)
        message = self.workspace.post_user_message(dm, self.user_id, text)
        self._seen = self._snapshot()
        payload = {
            "type": "message",
            "channel_type": "im",
            "user": self.user_id,
            "text": text,
            "ts": message.ts,
            "channel": dm,
            "event_ts": message.ts,
        }
        self._send(event(TEAM, payload))

    def _say(self, text: str) -> None:
        message = self.workspace.post_user_message(GENERAL[0], self.user_id, text)
        self._seen = self._snapshot()
        self.last_said = (GENERAL[0], message.ts)
        self.echo(f"#general  {self.me}: {text}")

    def _save(self) -> None:
        if self.last_said is None:
            self.echo("(say something first, e.g. `say VPN: use vpn.acme.com with your SSO login`)")
            return
        channel, ts = self.last_said
        message = self.workspace.message(channel, ts)
        payload = {"type": "message", "user": message.user, "ts": message.ts, "text": message.text}
        ws = self.workspace
        self._send(
            message_shortcut(
                self.actor(channel),
                SAVE_SHORTCUT,
                payload,
                ws.response_url(channel, self.user_id),
                ws.trigger_id(self.user_id),
            )
        )

    def _home(self) -> None:
        payload = {
            "type": "app_home_opened",
            "user": self.user_id,
            "tab": "home",
            "event_ts": unique_id(""),
        }
        self._send(event(TEAM, payload), force_home=True)

    def _react(self, text: str) -> None:
        removing = text.startswith("-")
        name = text.lstrip("-").strip(":")
        answer = self._last_answer()
        if answer is None:
            self.echo("(no Lepton answer to react to yet)")
            return
        channel, ts = answer
        if removing:
            self.workspace.remove_reaction(channel, ts, self.user_id, name)
        else:
            self.workspace.add_reaction(channel, ts, self.user_id, name)
        kind = "reaction_removed" if removing else "reaction_added"
        payload = {
            "type": kind,
            "user": self.user_id,
            "reaction": name,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "item_user": self.workspace.bot_user_id,
            "event_ts": unique_id(""),
        }
        self.echo(f"({self.me} {'removed' if removing else 'reacted'} :{name}: on the last answer)")
        self._send(event(TEAM, payload))

    def _press(self, number: str) -> None:
        buttons = self.renderer.buttons
        if not number.isdigit() or not 1 <= int(number) <= len(buttons):
            self.echo(f"(no button {number}; the last reply had {len(buttons)})")
            return
        button: Button = buttons[int(number) - 1]
        container = button.container
        channel = str(container.get("channel_id") or GENERAL[0])
        ws = self.workspace
        response_url = None
        if container.get("type") == "message":
            response_url = ws.response_url(channel, self.user_id, container.get("message_ts"))
        actor = self.actor(channel)
        action = {"action_id": button.action_id, "block_id": button.block_id, "value": button.value}
        self.echo(f"({self.me} pressed {button.label})")
        self._send(
            block_action(
                actor, action, container, response_url, trigger_id=ws.trigger_id(self.user_id)
            )
        )

    def _field(self, text: str) -> bool:
        name = text.split(":", 1)[0].strip().lower()
        return ":" in text and self.modal is not None and name in self.modal.values

    def _modal_input(self, text: str) -> None:
        assert self.modal is not None
        lowered = text.lower()
        if lowered == "cancel":
            self.workspace.pop_modal(self.user_id)
            self.modal = None
            self.echo("(modal closed)")
            return
        if lowered != "submit":
            name, _, value = text.partition(":")
            self.modal.values[name.strip().lower()] = value.strip()
            self.echo(f"({name.strip().lower()} set)")
            return
        response = self._dispatch(
            view_submission(self.actor(), self.modal.view.view, self.modal.values)
        )
        body = _json(response.body)
        if body.get("response_action") == "errors":
            for field, problem in body.get("errors", {}).items():
                self.echo(f"  ! {field}: {problem}")
            return
        self.workspace.pop_modal(self.user_id)
        self.modal = None
        self._render()

    def _send(self, request: SlackRequest, force_home: bool = False) -> None:
        response = self._dispatch(request)
        self._run_scheduler()
        body = _json(response.body)
        if response.status != 200:
            self.echo(f"(Slack would show an error: HTTP {response.status})")
        elif body.get("text") or body.get("blocks"):
            heading = "#general  (only visible to you)"
            self.echo(
                "\n".join(
                    self.renderer.message(heading, body.get("text", ""), body.get("blocks", []), {})
                )
            )
        self._render(force_home)

    def now(self) -> datetime:
        """The real time, or later once `wait` has moved the console's clock on."""
        return max(utcnow(), self.clock)

    def _run_scheduler(self) -> None:
        """What `lepton worker` would do, now; invitations due later (someone's 10:00, after a
        weekend) are sent at once, as if the clock had moved on to them."""
        now = self.now()
        for _ in range(len(PEOPLE) + 1):
            self.services.scheduled_work(now)
            due = self.services.surveys.next_invitation()
            if due is None:
                return
            now = max(now, due)

    def _wait(self) -> None:
        """Move the console's clock on to the next nudge, as if the days had passed."""
        due = next_nudge_due(self.services.sessions)
        if due is None:
            self.echo("(nothing is scheduled: assign training with a due date first)")
            return
        self.clock = max(self.clock, due)
        self.echo(f"(the clock moves on to {self.clock:%a %d %b %H:%M} UTC)")
        self.services.scheduled_work(self.clock)
        self._render()

    def _dispatch(self, request: SlackRequest) -> Any:
        return self.app.dispatch(
            BoltRequest(body=request.body, headers=request.headers(self.secret))
        )

    def _snapshot(self) -> dict[str, Any]:
        ws = self.workspace
        seen: dict[str, Any] = {}
        for channel in self._channels():
            seen[f"m:{channel}"] = {
                (m.ts, m.text, json.dumps(m.blocks)) for m in ws.messages(channel)
            }
            seen[f"e:{channel}"] = len(ws.ephemerals(channel, self.user_id))
        modals = ws.modals(self.user_id)
        seen["modal"] = (modals[-1].id, modals[-1].hash) if modals else None
        home = ws.home(self.user_id)
        seen["home"] = home.hash if home else None
        return seen

    def _channels(self) -> list[str]:
        """What the current person sees: the channels they are in and their DM with Lepton."""
        mine = [
            c for c in (GENERAL[0], LEADS[0]) if self.user_id in self.workspace.channel(c).members
        ]
        return [*mine, self.workspace.dm_channel(self.user_id)]

    def _render(self, force_home: bool = False) -> None:
        ws = self.workspace
        before, after = self._seen, self._snapshot()
        for channel in self._channels():
            where = self._where(channel)
            for message in ws.messages(channel):
                if (message.ts, message.text, json.dumps(message.blocks)) in before[f"m:{channel}"]:
                    continue
                thread = " (thread)" if message.thread_ts else ""
                heading = f"{where}{thread}  {self._name_of(message.user)}:"
                container = {"type": "message", "message_ts": message.ts, "channel_id": channel}
                shown = "\n".join([message.text, *self._files(message.files)]).strip()
                self.echo(
                    "\n".join(self.renderer.message(heading, shown, message.blocks, container))
                )
            for message in ws.ephemerals(channel, self.user_id)[before[f"e:{channel}"] :]:
                container = {
                    "type": "message",
                    "message_ts": message.ts,
                    "channel_id": channel,
                    "is_ephemeral": True,
                }
                heading = f"{where}  lepton (only visible to you):"
                self.echo(
                    "\n".join(
                        self.renderer.message(heading, message.text, message.blocks, container)
                    )
                )
        modals = ws.modals(self.user_id)
        if modals and after["modal"] != before["modal"]:
            view = modals[-1]
            self.modal = _Modal(view, _initial_values(view))
            title = view.view.get("title", {}).get("text", "modal")
            self.echo(
                f"[modal: {title}]  (set fields with `name: value`, then `submit` or `cancel`)"
            )
            self.echo(
                "\n".join(
                    self.renderer.blocks(view.blocks, {"type": "view", "view_id": view.id}, "  ")
                )
            )
        home = ws.home(self.user_id)
        if home and (force_home or after["home"] != before["home"]):
            self.echo(f"[App Home of {self.me}]")
            self.echo(
                "\n".join(
                    self.renderer.blocks(home.blocks, {"type": "view", "view_id": home.id}, "  ")
                )
            )
        self._seen = after

    def _last_answer(self) -> tuple[str, str] | None:
        ws = self.workspace
        latest: tuple[str, str] | None = None
        for channel in self._channels():
            for message in ws.messages(channel):
                if (
                    message.user == ws.bot_user_id
                    and message.blocks
                    and (latest is None or message.ts > latest[1])
                ):
                    latest = (channel, message.ts)
        return latest

    def _files(self, file_ids: tuple[str, ...]) -> list[str]:
        uploads = {u.file_id: u for u in self.slack.uploads()}
        shown = [uploads[f] for f in file_ids if f in uploads]
        return [f"[file: {u.title or u.filename}, {len(u.data or b'')} bytes]" for u in shown]

    def _where(self, channel: str) -> str:
        if channel in (GENERAL[0], LEADS[0]):
            return f"#{self.workspace.channel(channel).name}"
        owner = next(
            (n for n, (u, _, _) in PEOPLE.items() if self.workspace.dm_channel(u) == channel),
            channel,
        )
        return f"DM {owner} <> lepton"

    def _name_of(self, user_id: str) -> str:
        if user_id == self.workspace.bot_user_id:
            return "lepton"
        return next((n for n, (u, _, _) in PEOPLE.items() if u == user_id), user_id)


def _initial_values(view: View) -> dict[str, str]:
    return {
        str(b.get("block_id")): str(b.get("element", {}).get("initial_value", ""))
        for b in view.blocks
        if b.get("type") == "input"
    }


def _json(body: str) -> dict[str, Any]:
    try:
        loaded = json.loads(body) if body else {}
    except json.JSONDecodeError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


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
        if len(console.services.knowledge.index) == 0:
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
