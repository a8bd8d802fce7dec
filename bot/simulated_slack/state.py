"""The state of a simulated workspace, shared by `Workspace` and its Web API method families.

One `WorkspaceState` holds everything (people, channels, messages, ephemerals, modals, Homes,
trigger_ids, response_urls) behind one lock, with the rules every family needs: how a channel
reference resolves, what the bot may see, how a message gets its ts and joins a thread, and
Slack's JSON shape of a message. Callers hold `lock` around every call.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.simulated_slack.shapes import (
    EPOCH,
    Channel,
    LocalSlackError,
    Message,
    Reaction,
    User,
    View,
    dm_id,
    view_json,
)

if TYPE_CHECKING:
    from bot.simulated_slack.server import LocalSlack

Method = Callable[[dict[str, Any]], dict[str, Any]]
"""One Web API method: its params in, the fields of its `{"ok": true, ...}` answer out."""


@dataclass(frozen=True)
class Team:
    """Who the workspace and its bot are, as auth.test and every JSON shape report them."""

    team_id: str
    team_name: str
    domain: str
    bot_user_id: str
    bot_id: str
    bot_name: str
    app_id: str


@dataclass(frozen=True)
class Responder:
    """Where a response_url minted by `Workspace.response_url` answers."""

    channel: str
    user: str
    message_ts: str | None


@dataclass(frozen=True)
class Content:
    """What a message says: text, Block Kit blocks and legacy attachments."""

    text: str
    blocks: list[dict[str, Any]]
    attachments: list[dict[str, Any]]


class WorkspaceState:
    """The workspace's records and the rules that read and change them (hold `lock`)."""

    def __init__(self, team: Team, slack: LocalSlack) -> None:
        self.team = team
        self.slack = slack
        self.lock = threading.RLock()
        self.clock = 0
        self.serial = itertools.count(1)
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, dict[str, Message]] = {}
        self.ephemerals: dict[tuple[str, str], list[Message]] = {}
        self.modals: dict[str, list[View]] = {}
        self.homes: dict[str, View] = {}
        self.triggers: dict[str, str | None] = {}  # trigger_id -> user, None once exchanged
        self.responders: dict[str, Responder] = {}

    def next_ts(self) -> str:
        self.clock += 100
        seconds, micros = divmod(self.clock, 1_000_000)
        return f"{EPOCH + seconds}.{micros:06d}"

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self.serial):09d}"

    def new_view(
        self,
        user: str,
        definition: dict[str, Any],
        view_id: str,
        root_view_id: str,
        previous_view_id: str | None,
    ) -> View:
        """A view as shown, with a fresh hash (so a stale `hash` conflicts)."""
        shown = view_json(
            definition,
            view_id=view_id,
            hash=f"{EPOCH}.{next(self.serial):08x}",
            root_view_id=root_view_id,
            previous_view_id=previous_view_id,
            team_id=self.team.team_id,
            app_id=self.team.app_id,
            bot_id=self.team.bot_id,
        )
        return View(view_id, user, shown)

    def user(self, user: str) -> User:
        if user not in self.users:
            raise LocalSlackError("user_not_found")
        return self.users[user]

    def open_dm(self, user: str) -> Channel:
        person = self.user(user)
        channel_id = dm_id(person.id)
        if channel_id not in self.channels:
            members = tuple(dict.fromkeys((person.id, self.team.bot_user_id)))
            self.channels[channel_id] = Channel(
                channel_id, "", True, members, is_im=True, user=person.id
            )
            self.messages[channel_id] = {}
        return self.channels[channel_id]

    def resolve(self, ref: Any, *, user_means_dm: bool = False) -> Channel:
        """A channel by id or name (#name); a user id, or an unopened D id, means that DM."""
        if not ref or not isinstance(ref, str):
            raise LocalSlackError("channel_not_found")
        if ref in self.channels:
            return self.channels[ref]
        for channel in self.channels.values():
            if not channel.is_im and channel.name == ref.removeprefix("#"):
                return channel
        if ref in self.users and user_means_dm:
            return self.open_dm(ref)
        for user in self.users:
            if ref.startswith("D") and dm_id(user) == ref:
                return self.open_dm(user)
        raise LocalSlackError("channel_not_found")

    def visible_channel(self, ref: Any) -> Channel:
        """What the bot may look at: public channels, and those it is a member of."""
        channel = self.resolve(ref)
        if channel.is_private and self.team.bot_user_id not in channel.members:
            raise LocalSlackError("channel_not_found")
        return channel

    def bot_channel(self, ref: Any, *, user_means_dm: bool = False) -> Channel:
        """A channel the bot is in; else not_in_channel (public) or channel_not_found."""
        channel = self.resolve(ref, user_means_dm=user_means_dm)
        if self.team.bot_user_id not in channel.members:
            raise LocalSlackError("channel_not_found" if channel.is_private else "not_in_channel")
        return channel

    def listed(self, channel: Channel, types: list[str]) -> bool:
        """Whether the bot's listings of `types` show `channel`: public ones, and its own."""
        kind = (
            "im" if channel.is_im else "private_channel" if channel.is_private else "public_channel"
        )
        return kind in types and (
            not channel.is_private or self.team.bot_user_id in channel.members
        )

    def add_member(self, channel: str, user: str) -> Channel:
        found = self.resolve(channel)
        if user not in found.members:
            found = self.channels[found.id] = replace(found, members=(*found.members, user))
        return found

    def message(self, channel: str, ts: str) -> Message:
        message = self.messages.get(channel, {}).get(ts)
        if message is None:
            raise LocalSlackError("message_not_found")
        return message

    def ordered(self, channel: str) -> list[Message]:
        return sorted(self.messages.get(channel, {}).values(), key=lambda m: Decimal(m.ts))

    def thread(self, channel: str, ts: str) -> list[Message]:
        """The thread's parent, then its replies, oldest first."""
        found = self.resolve(channel, user_means_dm=True)
        try:
            parent = self.message(found.id, ts)
        except LocalSlackError:
            raise LocalSlackError("thread_not_found") from None
        root = parent.thread_ts or parent.ts
        return [m for m in self.ordered(found.id) if root in (m.ts, m.thread_ts)]

    def post(
        self,
        channel: Channel,
        user: str,
        content: Content,
        thread_ts: str | None,
        *,
        files: tuple[str, ...] = (),
    ) -> Message:
        """A new message in `channel`; a reply to a reply joins the parent's thread."""
        if thread_ts:
            parent = self.messages[channel.id].get(thread_ts)
            if parent is None:
                raise LocalSlackError("invalid_thread_ts")
            thread_ts = parent.thread_ts or parent.ts
        message = self._compose(channel.id, user, content, thread_ts, files)
        self.messages[channel.id][message.ts] = message
        return message

    def ephemeral(
        self, channel: str, user: str, content: Content, thread_ts: str | None
    ) -> Message:
        """A bot message only `user` sees in `channel`."""
        message = self._compose(channel, self.team.bot_user_id, content, thread_ts)
        self.ephemerals.setdefault((channel, user), []).append(message)
        return message

    def _compose(
        self,
        channel: str,
        user: str,
        content: Content,
        thread_ts: str | None,
        files: tuple[str, ...] = (),
    ) -> Message:
        """A new message with the next ts; the bot's messages carry its bot_id."""
        bot_id = self.team.bot_id if user == self.team.bot_user_id else None
        return Message(
            channel,
            self.next_ts(),
            user,
            content.text,
            content.blocks,
            content.attachments,
            thread_ts or None,
            bot_id=bot_id,
            files=files,
        )

    def react(self, channel: str, ts: str, user: str, name: str, *, add: bool) -> Message:
        """Add or take back `user`'s :name: on a message, refused as Slack refuses it."""
        found = self.resolve(channel, user_means_dm=True)
        message = self.message(found.id, ts)
        name = name.strip(":")
        reactions = {r.name: r.users for r in message.reactions}
        users = reactions.get(name, ())
        if add and user in users:
            raise LocalSlackError("already_reacted")
        if not add and user not in users:
            raise LocalSlackError("no_reaction")
        reactions[name] = (*users, user) if add else tuple(u for u in users if u != user)
        updated = replace(
            message, reactions=tuple(Reaction(n, us) for n, us in reactions.items() if us)
        )
        self.messages[found.id][ts] = updated
        return updated
