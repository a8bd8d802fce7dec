"""chat.* and reactions.*: the bot posting, editing, deleting and reacting to messages."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.simulated_slack.shapes import LocalSlackError, content, decoded, required
from bot.simulated_slack.state import Content, Method, WorkspaceState
from bot.simulated_slack.web_api.message_json import message_json


class ChatApi:
    """The message methods; the bot may only change its own messages, as in Slack."""

    def __init__(self, state: WorkspaceState) -> None:
        self.state = state
        self.team = state.team

    def methods(self) -> dict[str, Method]:
        return {
            "chat.postMessage": self.post_message,
            "chat.postEphemeral": self.post_ephemeral,
            "chat.update": self.update,
            "chat.delete": self.delete,
            "chat.getPermalink": self.get_permalink,
            "reactions.get": self.get_reactions,
            "reactions.add": lambda p: self.set_reaction(p, add=True),
            "reactions.remove": lambda p: self.set_reaction(p, add=False),
        }

    def post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        state = self.state
        channel = state.bot_channel(params.get("channel"), user_means_dm=True)
        said = Content(*content(params))
        message = state.post(channel, self.team.bot_user_id, said, params.get("thread_ts"))
        metadata = decoded(params, "metadata")
        if metadata is not None:
            message = state.messages[channel.id][message.ts] = replace(message, metadata=metadata)
        return {"channel": channel.id, "ts": message.ts, "message": message_json(state, message)}

    def post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.state.bot_channel(params.get("channel"), user_means_dm=True)
        user = self.state.user(required(params, "user"))
        if user.id not in channel.members:
            raise LocalSlackError("user_not_in_channel")
        said = Content(*content(params))
        message = self.state.ephemeral(channel.id, user.id, said, params.get("thread_ts"))
        return {"message_ts": message.ts}

    def update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.state.bot_channel(params.get("channel"))
        old = self.state.message(channel.id, required(params, "ts"))
        if old.user != self.team.bot_user_id:
            raise LocalSlackError("cant_update_message")
        text, blocks, attachments = content(params, partial=True)
        new = replace(
            old,
            text=old.text if text is None else text,
            blocks=old.blocks if blocks is None else blocks,
            attachments=old.attachments if attachments is None else attachments,
            edited=True,
        )
        self.state.messages[channel.id][old.ts] = new
        shown = message_json(self.state, new)
        return {"channel": channel.id, "ts": new.ts, "text": new.text, "message": shown}

    def delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.state.bot_channel(params.get("channel"))
        message = self.state.message(channel.id, required(params, "ts"))
        if message.user != self.team.bot_user_id:
            raise LocalSlackError("cant_delete_message")
        del self.state.messages[channel.id][message.ts]
        return {"channel": channel.id, "ts": message.ts}

    def get_permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.state.visible_channel(params.get("channel"))
        message = self.state.message(channel.id, required(params, "message_ts"))
        archive = f"https://{self.team.domain}.slack.com/archives/{channel.id}"
        link = f"{archive}/p{message.ts.replace('.', '')}"
        if message.thread_ts:
            link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
        return {"channel": channel.id, "permalink": link}

    def get_reactions(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self.state.bot_channel(params.get("channel"))
        message = self.state.message(channel.id, required(params, "timestamp"))
        return {
            "type": "message",
            "channel": channel.id,
            "message": message_json(self.state, message),
        }

    def set_reaction(self, params: dict[str, Any], *, add: bool) -> dict[str, Any]:
        channel = self.state.bot_channel(params.get("channel"))
        timestamp, name = required(params, "timestamp"), required(params, "name")
        self.state.react(channel.id, timestamp, self.team.bot_user_id, name, add=add)
        return {}
