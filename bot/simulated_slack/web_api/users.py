"""auth.*, team.* and users.*: who the bot is, and who is in the workspace."""

from __future__ import annotations

from typing import Any

from bot.simulated_slack.shapes import EPOCH, channel_json, listed, page, required, user_json
from bot.simulated_slack.state import Method, WorkspaceState


class UsersApi:
    """The identity and people methods, read from the shared state."""

    def __init__(self, state: WorkspaceState) -> None:
        self.state = state
        self.team = state.team

    def methods(self) -> dict[str, Method]:
        return {
            "auth.test": self.auth_test,
            "team.info": self.team_info,
            "users.info": self.users_info,
            "users.list": self.users_list,
            "users.conversations": self.users_conversations,
        }

    def auth_test(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": f"https://{self.team.domain}.slack.com/",
            "team": self.team.team_name,
            "user": self.team.bot_name,
            "team_id": self.team.team_id,
            "user_id": self.team.bot_user_id,
            "bot_id": self.team.bot_id,
            "is_enterprise_install": False,
        }

    def team_info(self, _params: dict[str, Any]) -> dict[str, Any]:
        team = self.team
        return {"team": {"id": team.team_id, "name": team.team_name, "domain": team.domain}}

    def users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user": user_json(self.state.user(required(params, "user")), self.team.team_id)}

    def users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        users, cursor = page(list(self.state.users.values()), params, default_limit=0)
        return {
            "members": [user_json(u, self.team.team_id) for u in users],
            "cache_ts": EPOCH,
            "response_metadata": {"next_cursor": cursor},
        }

    def users_conversations(self, params: dict[str, Any]) -> dict[str, Any]:
        """Slack's rule: the user's public channels, and private ones the bot shares with them."""
        state = self.state
        user = state.user(params.get("user") or self.team.bot_user_id).id
        types = listed(params.get("types") or "public_channel")
        mine = [c for c in state.channels.values() if state.listed(c, types) and user in c.members]
        channels, cursor = page(mine, params, default_limit=100)
        return {
            "channels": [
                channel_json(c, self.team.team_id, self.team.bot_user_id) for c in channels
            ],
            "response_metadata": {"next_cursor": cursor},
        }
