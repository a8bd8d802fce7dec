"""conversations.*: what the bot may see of channels and DMs, and reading their history."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.simulated_slack.shapes import (
    Channel,
    LocalSlackError,
    Message,
    channel_json,
    dm_id,
    flag,
    listed,
    page,
    required,
    ts_bound,
)
from bot.simulated_slack.state import Method, WorkspaceState
from bot.simulated_slack.web_api.message_json import message_json


class ConversationsApi:
    """The conversations methods, with Slack's visibility rules for the bot."""

    def __init__(self, state: WorkspaceState) -> None:
        self.state = state
        self.team = state.team

    def methods(self) -> dict[str, Method]:
        return {
            "conversations.info": self.info,
            "conversations.members": self.members,
            "conversations.history": self.history,
            "conversations.replies": self.replies,
            "conversations.open": self.open_conversation,
            "conversations.join": self.join,
            "conversations.list": self.list_conversations,
        }

    def info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.state.visible_channel(params.get("channel"))
        info = self._json(channel)
        if flag(params, "include_num_members"):
            info["num_members"] = len(channel.members)
        return {"channel": info}

    def members(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.state.visible_channel(params.get("channel"))
        members, cursor = page(list(channel.members), params, default_limit=100)
        return {"members": members, "response_metadata": {"next_cursor": cursor}}

    def history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.state.bot_channel(params.get("channel"))
        oldest = ts_bound(params, "oldest", Decimal(0))
        latest = ts_bound(params, "latest", Decimal("Infinity"))
        inclusive = flag(params, "inclusive")
        in_range = [
            m
            for m in reversed(self.state.ordered(channel.id))
            if m.thread_ts is None
            and (
                oldest <= Decimal(m.ts) <= latest if inclusive else oldest < Decimal(m.ts) < latest
            )
        ]
        return self._page_of_messages(in_range, params, default_limit=100)

    def replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.state.bot_channel(params.get("channel"))
        thread = self.state.thread(channel.id, required(params, "ts"))
        return self._page_of_messages(thread, params, default_limit=1000)

    def open_conversation(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("channel"):
            channel = self.state.bot_channel(params["channel"])
            already = True
        else:
            users = listed(required(params, "users"))
            if len(users) != 1:
                raise LocalSlackError(
                    "invalid_arguments", "[ERROR] the local workspace opens 1:1 DMs only"
                )
            already = dm_id(self.state.user(users[0]).id) in self.state.channels
            channel = self.state.open_dm(users[0])
        shown = self._json(channel) if flag(params, "return_im") else {"id": channel.id}
        return {"no_op": already, "already_open": already, "channel": shown}

    def join(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.state.visible_channel(params.get("channel"))
        if channel.is_private or channel.is_im:
            raise LocalSlackError("method_not_supported_for_channel_type")
        joined = self.state.add_member(channel.id, self.team.bot_user_id)
        warning = {"warning": "already_in_channel"} if channel == joined else {}
        return {"channel": self._json(joined), **warning}

    def list_conversations(self, params: dict[str, Any]) -> dict[str, Any]:
        types = listed(params.get("types") or "public_channel")
        visible = [c for c in self.state.channels.values() if self.state.listed(c, types)]
        channels, cursor = page(visible, params, default_limit=100)
        return {
            "channels": [self._json(c) for c in channels],
            "response_metadata": {"next_cursor": cursor},
        }

    def _json(self, channel: Channel) -> dict[str, Any]:
        return channel_json(channel, self.team.team_id, self.team.bot_user_id)

    def _page_of_messages(
        self, messages: list[Message], params: dict[str, Any], *, default_limit: int
    ) -> dict[str, Any]:
        """One page of history or replies, with metadata only when the app asks for it."""
        shown, cursor = page(messages, params, default_limit=default_limit)
        with_metadata = flag(params, "include_all_metadata")
        return {
            "messages": [message_json(self.state, m, with_metadata=with_metadata) for m in shown],
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }
