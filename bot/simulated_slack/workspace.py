"""A simulated Slack workspace served by `LocalSlack`, for `lepton console` and the tests.

Slack is not reachable here, so the real Bolt app and slack_sdk talk to a `LocalSlack` server
and this model gives them Slack-shaped answers: channels and membership, DMs, messages and
threads, ephemerals, reactions, modals, the App Home and file shares, with Slack's error codes
(`not_in_channel`, `channel_not_found`, `user_not_found`, ...). Every method is registered with
`LocalSlack.on()`, so a test can still replace one (say, with a 429) afterwards.

The console and tests play the people: `post_user_message`, `add_reaction`, `trigger_id` and
`response_url` change or extend the state the way a person's action would, then the caller sends
the matching event or interaction to the app itself and reads the state back (`messages`,
`thread`, `ephemerals`, `modals`, `home`, `uploads`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.simulated_slack.shapes import Channel, LocalSlackError, Message, User, View, utc_offset
from bot.simulated_slack.state import Content, Responder, Team, WorkspaceState
from bot.simulated_slack.web_api import web_api

if TYPE_CHECKING:
    from bot.simulated_slack.server import LocalSlack, Upload


class WorkspaceReads:
    """What the console and tests read back after the app acted: the state, as records."""

    def __init__(self, state: WorkspaceState) -> None:
        self.state = state

    @property
    def slack(self) -> LocalSlack:
        """The server this workspace answers on (the latest `install`)."""
        return self.state.slack

    def user(self, user: str) -> User:
        with self.state.lock:
            return self.state.user(user)

    def channel(self, channel: str) -> Channel:
        with self.state.lock:
            return self.state.resolve(channel)

    def messages(self, channel: str) -> list[Message]:
        """Every message in a channel or DM (a D id or the person's user id), replies included."""
        with self.state.lock:
            return self.state.ordered(self.state.resolve(channel, user_means_dm=True).id)

    def message(self, channel: str, ts: str) -> Message:
        with self.state.lock:
            return self.state.message(self.state.resolve(channel, user_means_dm=True).id, ts)

    def thread(self, channel: str, ts: str) -> list[Message]:
        """The thread's parent, then its replies, oldest first."""
        with self.state.lock:
            return self.state.thread(channel, ts)

    def ephemerals(self, channel: str, user: str) -> list[Message]:
        with self.state.lock:
            found = self.state.resolve(channel, user_means_dm=True)
            return list(self.state.ephemerals.get((found.id, user), []))

    def modals(self, user: str) -> list[View]:
        """The person's open modals, bottom first (the last one is on screen)."""
        with self.state.lock:
            return list(self.state.modals.get(user, []))

    def home(self, user: str) -> View | None:
        with self.state.lock:
            return self.state.homes.get(user)

    def uploads(self) -> list[Upload]:
        return self.slack.uploads()


class Workspace(WorkspaceReads):
    """An in-memory workspace answering the Web API methods Lepton uses on `slack`.

    Setting it up and acting as its people is here; reading it back is `WorkspaceReads`; the
    Web API families are in `bot.simulated_slack.web_api`, all sharing one `WorkspaceState`.
    """

    def __init__(
        self,
        slack: LocalSlack,
        team_id: str = "T0LEPTON",
        team_name: str = "Acme",
        domain: str = "acme",
        bot_user_id: str = "ULEPTONBOT",
        bot_id: str = "BLEPTON",
        *,
        bot_name: str = "lepton",
        app_id: str = "ALEPTON",
        token: str | None = None,
    ) -> None:
        """With `token`, this workspace answers only calls made with that bot token, so several
        workspaces can share one `slack`; without, it answers every call."""
        self.token = token
        self.team_id, self.team_name, self.domain = team_id, team_name, domain
        self.bot_user_id, self.bot_id = bot_user_id, bot_id
        self.bot_name, self.app_id = bot_name, app_id
        team = Team(team_id, team_name, domain, bot_user_id, bot_id, bot_name, app_id)
        super().__init__(WorkspaceState(team, slack))
        self.add_user(bot_user_id, bot_name, real_name=bot_name.title(), is_bot=True, bot_id=bot_id)
        self.install(slack)

    def install(self, slack: LocalSlack) -> None:
        """Serve this workspace's Web API on `slack`; again after a test's `on()` overrides."""
        self.state.slack = slack
        for name, method in web_api(self.state).items():
            slack.on(name, method, token=self.token)
        if self.token:
            slack.route_responses(self.team_id, self.token)

    # People and channels

    def add_user(
        self,
        id: str,
        name: str,
        real_name: str | None = None,
        *,
        display_name: str = "",
        tz: str = "America/New_York",
        tz_offset: int | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        email: str | None = None,
        bot_id: str | None = None,
    ) -> User:
        """Add a person (or bot); tz_offset defaults to tz's current UTC offset in seconds."""
        offset = utc_offset(tz) if tz_offset is None else tz_offset
        user = User(
            id,
            name,
            real_name or name,
            display_name=display_name,
            tz=tz,
            tz_offset=offset,
            is_admin=is_admin,
            is_owner=is_owner,
            is_bot=is_bot,
            deleted=deleted,
            email=email,
            bot_id=bot_id,
        )
        with self.state.lock:
            self.state.users[id] = user
        return user

    def add_channel(
        self,
        id: str,
        name: str,
        is_private: bool = False,
        members: Iterable[str] = (),
        bot_member: bool = True,
    ) -> Channel:
        everyone = [*members, *([self.bot_user_id] if bot_member else [])]
        channel = Channel(id, name, is_private, tuple(dict.fromkeys(everyone)))
        with self.state.lock:
            self.state.channels[id] = channel
            self.state.messages.setdefault(id, {})
        return channel

    def add_member(self, channel: str, user: str) -> Channel:
        with self.state.lock:
            return self.state.add_member(channel, user)

    def remove_member(self, channel: str, user: str) -> Channel:
        with self.state.lock:
            found = self.state.resolve(channel)
            members = tuple(member for member in found.members if member != user)
            found = self.state.channels[found.id] = replace(found, members=members)
            return found

    def dm_channel(self, user: str) -> str:
        """The id of the bot's DM with `user` ("D" + the user id's suffix), opened if need be."""
        with self.state.lock:
            return self.state.open_dm(user).id

    # What people do (the caller then sends the matching event to the app)

    def post_user_message(
        self, channel: str, user: str, text: str, thread_ts: str | None = None
    ) -> Message:
        """A person writes in a channel (or DM, given a D id or their own user id)."""
        with self.state.lock:
            found = self.state.resolve(channel, user_means_dm=True)
            if user not in found.members:
                raise LocalSlackError("not_in_channel", f"{user} is not a member of {found.id}")
            return self.state.post(found, user, Content(text, [], []), thread_ts)

    def add_reaction(self, channel: str, ts: str, user: str, name: str) -> Message:
        with self.state.lock:
            return self.state.react(channel, ts, user, name, add=True)

    def remove_reaction(self, channel: str, ts: str, user: str, name: str) -> Message:
        with self.state.lock:
            return self.state.react(channel, ts, user, name, add=False)

    def trigger_id(self, user: str) -> str:
        """A single-use trigger_id for an interaction by `user` (views.open needs one); unique
        across workspaces and runs, as Slack's are, since Lepton answers each trigger once."""
        with self.state.lock:
            trigger = f"{next(self.state.serial)}.{self.team_id}.{secrets.token_hex(6)}"
            self.state.triggers[trigger] = user
            return trigger

    def response_url(self, channel: str, user: str, message_ts: str | None = None) -> str:
        """A response_url for an interaction by `user` in `channel` (on message_ts, if any).

        Posts to it become ephemerals to `user`, bot messages (`"response_type": "in_channel"`),
        or replace or delete the original (`replace_original`, `delete_original`).
        """
        with self.state.lock:
            prefix = f"{self.team_id}-" if self.token else ""
            key = f"{prefix}R{next(self.state.serial):06d}"
            self.state.responders[key] = Responder(self.state.resolve(channel).id, user, message_ts)
        return self.slack.response_url(key)

    def pop_modal(self, user: str) -> View | None:
        """The person closes the top modal (or the app answered `response_action: clear`)."""
        with self.state.lock:
            stack = self.state.modals.get(user, [])
            return stack.pop() if stack else None

    def close_modals(self, user: str) -> None:
        with self.state.lock:
            self.state.modals.pop(user, None)
