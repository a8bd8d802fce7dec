"""Slack's JSON shape of a message, as chat.* and conversations.* answer with it."""

from __future__ import annotations

from typing import Any

from bot.simulated_slack.shapes import Message
from bot.simulated_slack.state import WorkspaceState


def message_json(
    state: WorkspaceState, message: Message, *, with_metadata: bool = False
) -> dict[str, Any]:
    """The message as the app reads it back, files and thread summary resolved."""
    shown: dict[str, Any] = {
        "type": "message",
        "ts": message.ts,
        "user": message.user,
        "text": message.text,
        "team": state.team.team_id,
    }
    if message.bot_id:
        shown |= {"bot_id": message.bot_id, "app_id": state.team.app_id}
    if message.blocks:
        shown["blocks"] = message.blocks
    if message.attachments:
        shown["attachments"] = message.attachments
    if message.files:
        uploads = {u.file_id: u for u in state.slack.uploads()}
        shown["files"] = [uploads[f].as_file() for f in message.files if f in uploads]
    if with_metadata and message.metadata:
        shown["metadata"] = message.metadata
    if message.edited:
        shown["edited"] = {"user": message.user, "ts": message.ts}
    shown |= _thread_json(state, message)
    if message.reactions:
        shown["reactions"] = [
            {"name": r.name, "users": list(r.users), "count": r.count} for r in message.reactions
        ]
    return shown


def _thread_json(state: WorkspaceState, message: Message) -> dict[str, Any]:
    """Where the message sits in a thread: its parent's, or its own replies' summary."""
    shown: dict[str, Any] = {}
    if message.thread_ts:
        parent = state.messages[message.channel].get(message.thread_ts)
        shown["thread_ts"] = message.thread_ts
        shown["parent_user_id"] = parent.user if parent else None
    replies = [m for m in state.ordered(message.channel) if m.thread_ts == message.ts]
    if replies:
        shown |= {
            "thread_ts": message.ts,
            "reply_count": len(replies),
            "reply_users": list(dict.fromkeys(m.user for m in replies)),
            "latest_reply": replies[-1].ts,
        }
    return shown
