"""What each person in the console has been shown, and printing what is new to them since.

After every action the console compares the workspace with what the current person last saw
and prints only the difference: new or edited messages, new ephemerals, a modal that opened or
changed, a changed App Home. `as bob` then shows Bob what happened while he was away.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.console.render import Renderer
from bot.console.world import GENERAL, LEADS, PEOPLE, user_id
from bot.simulated_slack.server import LocalSlack, View
from bot.simulated_slack.shapes import LocalSlackError
from bot.simulated_slack.workspace import Workspace


@dataclass
class OpenModal:
    """The modal on screen and the values typed into it so far, to submit as Slack would."""

    view: View
    values: dict[str, str]


class Screen:
    """The terminal: one `Renderer` numbering buttons, and a snapshot of what each person saw."""

    def __init__(
        self, workspace: Workspace, slack: LocalSlack, echo: Callable[[str], None]
    ) -> None:
        self.workspace = workspace
        self.slack = slack
        self.echo = echo
        self.renderer = Renderer(self.name_of)
        self.modal: OpenModal | None = None
        self._seen_by: dict[str, dict[str, Any]] = {}

    def mark_seen(self, person: str) -> None:
        """Everything there is now counts as shown to `person` (say, their own message)."""
        self._seen_by[person] = self._snapshot(person)

    def show_reply(self, body: dict[str, Any]) -> None:
        """The app's direct answer to a slash command, which only the person sees."""
        heading = "#general  (only visible to you)"
        self.echo(
            "\n".join(
                self.renderer.message(heading, body.get("text", ""), body.get("blocks", []), {})
            )
        )

    def show_new(self, person: str, force_home: bool = False) -> None:
        """Print what changed for `person` since they last looked; the Home too if forced."""
        before, after = self._seen_by[person], self._snapshot(person)
        for channel in self.channels(person):
            where = self._where(channel)
            self._show_messages(channel, where, before[f"m:{channel}"])
            self._show_ephemerals(person, channel, where, before[f"e:{channel}"])
        modals = self.workspace.modals(user_id(person))
        if modals and after["modal"] != before["modal"]:
            self._show_modal(modals[-1])
        home = self.workspace.home(user_id(person))
        if home and (force_home or after["home"] != before["home"]):
            self.echo(f"[App Home of {person}]")
            container = {"type": "view", "view_id": home.id}
            self.echo("\n".join(self.renderer.blocks(home.blocks, container, "  ")))
        self._seen_by[person] = after

    def channels(self, person: str) -> list[str]:
        """What `person` sees: the channels they are in and their DM with Lepton."""
        me = user_id(person)
        mine = [c for c in (GENERAL[0], LEADS[0]) if me in self.workspace.channel(c).members]
        return [*mine, self.workspace.dm_channel(me)]

    def last_answer(self, person: str) -> tuple[str, str] | None:
        """The channel and ts of Lepton's latest message with blocks that `person` can see."""
        ws = self.workspace
        latest: tuple[str, str] | None = None
        for channel in self.channels(person):
            for message in ws.messages(channel):
                if (
                    message.user == ws.bot_user_id
                    and message.blocks
                    and (latest is None or message.ts > latest[1])
                ):
                    latest = (channel, message.ts)
        return latest

    def name_of(self, user: str) -> str:
        """A person's name, or a channel's (for `<#C…>`); the id when neither is known."""
        if user == self.workspace.bot_user_id:
            return "lepton"
        if user.startswith(("C", "G")):
            try:
                return self.workspace.channel(user).name or user
            except LocalSlackError:
                return user
        return next((n for n, (u, _, _) in PEOPLE.items() if u == user), user)

    def _snapshot(self, person: str) -> dict[str, Any]:
        ws, me = self.workspace, user_id(person)
        seen: dict[str, Any] = {}
        for channel in self.channels(person):
            seen[f"m:{channel}"] = {
                (m.ts, m.text, json.dumps(m.blocks)) for m in ws.messages(channel)
            }
            seen[f"e:{channel}"] = len(ws.ephemerals(channel, me))
        modals = ws.modals(me)
        seen["modal"] = (modals[-1].id, modals[-1].hash) if modals else None
        home = ws.home(me)
        seen["home"] = home.hash if home else None
        return seen

    def _show_messages(self, channel: str, where: str, seen: set[tuple[str, str, str]]) -> None:
        for message in self.workspace.messages(channel):
            if (message.ts, message.text, json.dumps(message.blocks)) in seen:
                continue
            thread = " (thread)" if message.thread_ts else ""
            heading = f"{where}{thread}  {self.name_of(message.user)}:"
            container = {"type": "message", "message_ts": message.ts, "channel_id": channel}
            shown = "\n".join([message.text, *self._files(message.files)]).strip()
            self.echo("\n".join(self.renderer.message(heading, shown, message.blocks, container)))

    def _show_ephemerals(self, person: str, channel: str, where: str, seen: int) -> None:
        for message in self.workspace.ephemerals(channel, user_id(person))[seen:]:
            container = {
                "type": "message",
                "message_ts": message.ts,
                "channel_id": channel,
                "is_ephemeral": True,
            }
            heading = f"{where}  lepton (only visible to you):"
            self.echo(
                "\n".join(self.renderer.message(heading, message.text, message.blocks, container))
            )

    def _show_modal(self, view: View) -> None:
        """A modal opened or changed: it is the one `name: value` and `submit` now act on."""
        self.modal = OpenModal(view, _initial_values(view))
        title = view.view.get("title", {}).get("text", "modal")
        self.echo(f"[modal: {title}]  (set fields with `name: value`, then `submit` or `cancel`)")
        container = {"type": "view", "view_id": view.id}
        self.echo("\n".join(self.renderer.blocks(view.blocks, container, "  ")))

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


def _initial_values(view: View) -> dict[str, str]:
    return {
        str(b.get("block_id")): str(b.get("element", {}).get("initial_value", ""))
        for b in view.blocks
        if b.get("type") == "input"
    }
