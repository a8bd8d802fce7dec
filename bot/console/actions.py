"""What a person can do in the console, each turned into the request Slack would send.

`Messaging` covers writing (commands, mentions, DMs, channel messages), the Save to Lepton
shortcut, opening the App Home and reactions; `Controls` covers pressing buttons, filling in
and submitting modals, switching person and moving the clock on.
"""

from __future__ import annotations

from typing import Any

from bot.console.render import Button
from bot.console.session import Session, response_json
from bot.console.world import GENERAL, PEOPLE, TEAM
from bot.simulated_slack.payloads import (
    block_action,
    command,
    event,
    message_shortcut,
    unique_id,
    view_submission,
)
from bot.simulated_slack.shapes import LocalSlackError
from handlers.knowledge.saving import SAVE_SHORTCUT


class Messaging:
    """Writing in #general or the DM, and acting on messages, as events and commands."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.workspace = session.workspace

    def command(self, text: str) -> None:
        """`/lepton <text>` in #general."""
        me, ws = self.session.user_id, self.workspace
        request = command(
            self.session.actor(), text, ws.response_url(GENERAL[0], me), ws.trigger_id(me)
        )
        self.session.send(request)

    def mention(self, text: str) -> None:
        session = self.session
        message = self.workspace.post_user_message(
            GENERAL[0], session.user_id, f"<@{self.workspace.bot_user_id}> {text}"
        )
        session.mark_seen()
        session.echo(f"#general  {session.me}: @lepton {text}")
        payload = {
            "type": "app_mention",
            "user": session.user_id,
            "text": message.text,
            "ts": message.ts,
            "channel": GENERAL[0],
            "event_ts": message.ts,
        }
        session.send(event(TEAM, payload))

    def dm(self, text: str) -> None:
        session = self.session
        dm = self.workspace.dm_channel(session.user_id)
        message = self.workspace.post_user_message(dm, session.user_id, text)
        session.mark_seen()
        payload = {
            "type": "message",
            "channel_type": "im",
            "user": session.user_id,
            "text": text,
            "ts": message.ts,
            "channel": dm,
            "event_ts": message.ts,
        }
        session.send(event(TEAM, payload))

    def say(self, text: str) -> None:
        """A message in #general that Lepton does not answer, for `save` to save."""
        session = self.session
        message = self.workspace.post_user_message(GENERAL[0], session.user_id, text)
        session.mark_seen()
        session.last_said = (GENERAL[0], message.ts)
        session.echo(f"#general  {session.me}: {text}")

    def save(self) -> None:
        """The Save to Lepton message shortcut, on the last message said."""
        session = self.session
        if session.last_said is None:
            session.echo(
                "(say something first, e.g. `say VPN: use vpn.acme.com with your SSO login`)"
            )
            return
        channel, ts = session.last_said
        message = self.workspace.message(channel, ts)
        payload = {"type": "message", "user": message.user, "ts": message.ts, "text": message.text}
        ws = self.workspace
        session.send(
            message_shortcut(
                session.actor(channel),
                SAVE_SHORTCUT,
                payload,
                ws.response_url(channel, session.user_id),
                ws.trigger_id(session.user_id),
            )
        )

    def home(self) -> None:
        payload = {
            "type": "app_home_opened",
            "user": self.session.user_id,
            "tab": "home",
            "event_ts": unique_id(""),
        }
        self.session.send(event(TEAM, payload), force_home=True)

    def react(self, text: str) -> None:
        """`:name:` reacts to Lepton's last answer; `-:name:` takes the reaction back."""
        session = self.session
        removing = text.startswith("-")
        name = text.lstrip("-").strip(":")
        answer = session.screen.last_answer(session.me)
        if answer is None:
            session.echo("(no Lepton answer to react to yet)")
            return
        channel, ts = answer
        if removing:
            self.workspace.remove_reaction(channel, ts, session.user_id, name)
        else:
            self.workspace.add_reaction(channel, ts, session.user_id, name)
        payload = {
            "type": "reaction_removed" if removing else "reaction_added",
            "user": session.user_id,
            "reaction": name,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "item_user": self.workspace.bot_user_id,
            "event_ts": unique_id(""),
        }
        done = "removed" if removing else "reacted"
        session.echo(f"({session.me} {done} :{name}: on the last answer)")
        session.send(event(TEAM, payload))


class Controls:
    """Buttons, modals, switching person and moving the clock on."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.screen = session.screen

    def press(self, number: str) -> None:
        """Press a numbered button of the latest replies, as a block_actions interaction."""
        session, buttons = self.session, self.screen.renderer.buttons
        if not number.isdigit() or not 1 <= int(number) <= len(buttons):
            session.echo(f"(no button {number}; the last reply had {len(buttons)})")
            return
        button: Button = buttons[int(number) - 1]
        container = button.container
        channel = str(container.get("channel_id") or GENERAL[0])
        ws, me = session.workspace, session.user_id
        response_url = None
        if container.get("type") == "message":
            response_url = ws.response_url(channel, me, container.get("message_ts"))
        action = {"action_id": button.action_id, "block_id": button.block_id, "value": button.value}
        session.echo(f"({session.me} pressed {button.label})")
        session.send(
            block_action(
                session.actor(channel),
                action,
                container,
                response_url,
                trigger_id=ws.trigger_id(me),
            )
        )

    def set_field(self, name: str, value: str) -> None:
        """`name: value` in an open modal; sent with the rest on `submit`."""
        assert self.screen.modal is not None
        self.screen.modal.values[name] = value
        self.session.echo(f"({name} set)")

    def cancel(self) -> None:
        self.session.workspace.pop_modal(self.session.user_id)
        self.screen.modal = None
        self.session.echo("(modal closed)")

    def submit(self) -> None:
        """Submit the open modal; the app's field errors keep it open, as in Slack."""
        session, modal = self.session, self.screen.modal
        assert modal is not None
        values = {**modal.values, **self._picked_channels(modal.view.blocks, modal.values)}
        response = session.lepton.dispatch(
            view_submission(session.actor(), modal.view.view, values)
        )
        body = response_json(response)
        if body.get("response_action") == "errors":
            for field, problem in body.get("errors", {}).items():
                session.echo(f"  ! {field}: {problem}")
            return
        session.workspace.pop_modal(session.user_id)
        self.screen.modal = None
        session.show()

    def _picked_channels(
        self, blocks: list[dict[str, Any]], values: dict[str, str]
    ) -> dict[str, str]:
        """A channel picker's `#name` as the channel id Slack would send ("" if none)."""
        picked: dict[str, str] = {}
        for block in blocks:
            field = str(block.get("block_id"))
            if (block.get("element") or {}).get("type") != "conversations_select":
                continue
            name = values.get(field, "").strip().removeprefix("#")
            try:
                picked[field] = self.session.workspace.channel(name).id if name else ""
            except LocalSlackError:
                picked[field] = ""
        return picked

    def switch(self, name: str) -> None:
        """`as <name>`: type as someone else, and see what is new to them."""
        if name not in PEOPLE:
            self.session.echo(f"(there is no {name!r} here; people: {', '.join(PEOPLE)})")
            return
        self.session.me = name
        self.screen.modal = None
        self.session.echo(f"(you are now {name})")
        self.session.show()

    def wait(self) -> None:
        """Move the console's clock on to the next nudge, as if the days had passed."""
        lepton = self.session.lepton
        due = lepton.next_nudge()
        if due is None:
            self.session.echo("(nothing is scheduled: assign training with a due date first)")
            return
        lepton.clock = max(lepton.clock, due)
        self.session.echo(f"(the clock moves on to {lepton.clock:%a %d %b %H:%M} UTC)")
        lepton.services.home.scheduled_work(lepton.clock)
        self.session.show()
