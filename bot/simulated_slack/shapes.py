"""The records of the local Slack workspace and the wire format around them.

The simulated workspace (`bot.simulated_slack.state.WorkspaceState`, served by `Workspace`) keeps
its state in these frozen records and speaks Slack's wire format with the helpers below: Web API
parameters (slack_sdk sends JSON for some methods and forms, with JSON inside strings, for
others), cursor pagination, the Block Kit and view limits Slack enforces, and the JSON shapes of
users, channels and views.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

RESPONSE_URL = "response_url"
"""The pseudo-method under which POSTs to a `response_url(key)` are recorded and dispatched."""
EPOCH = 1_700_000_000
"""Seconds part of the first message timestamp; each new ts is 100 microseconds later."""
MESSAGE_BLOCK_LIMIT = 50
VIEW_BLOCK_LIMIT = 100

T = TypeVar("T")


class LocalSlackError(Exception):
    """A Slack error code: the Web API answers {"ok": false, "error": code, ...} with it."""

    def __init__(self, code: str, *messages: str) -> None:
        super().__init__(code, *messages)
        self.code = code
        self.messages = messages

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error": self.code}
        if self.messages:
            body["response_metadata"] = {"messages": list(self.messages)}
        return body


@dataclass(frozen=True)
class User:
    id: str
    name: str
    real_name: str
    display_name: str = ""
    tz: str = "America/New_York"
    tz_offset: int = 0
    is_admin: bool = False
    is_owner: bool = False
    is_bot: bool = False
    deleted: bool = False
    email: str | None = None
    bot_id: str | None = None


@dataclass(frozen=True)
class Channel:
    """A channel, private channel or DM; `user` is the person of a DM (`is_im`)."""

    id: str
    name: str
    is_private: bool = False
    members: tuple[str, ...] = ()
    is_im: bool = False
    user: str | None = None


@dataclass(frozen=True)
class Reaction:
    name: str
    users: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.users)


@dataclass(frozen=True)
class Message:
    """A message or ephemeral. `thread_ts` is set on replies only (never on a thread's parent).

    `user` is the author (the bot user for the app's messages, which also carry `bot_id`).
    """

    channel: str
    ts: str
    user: str
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    reactions: tuple[Reaction, ...] = ()
    bot_id: str | None = None
    files: tuple[str, ...] = ()
    edited: bool = False
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class View:
    """A modal or App Home: `view` is its full JSON as Slack holds it (id, hash, state, ...),
    which is also what Slack puts in the payloads of interactions with it."""

    id: str
    user: str
    view: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.view["type"])

    @property
    def hash(self) -> str:
        return str(self.view["hash"])

    @property
    def callback_id(self) -> str:
        return str(self.view["callback_id"])

    @property
    def private_metadata(self) -> str:
        return str(self.view["private_metadata"])

    @property
    def blocks(self) -> list[dict[str, Any]]:
        return list(self.view.get("blocks", []))


# Slack's JSON shapes (messages need the workspace's threads and files: Workspace renders them)


def user_json(user: User, team_id: str) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "real_name": user.real_name,
        "real_name_normalized": user.real_name,
        "display_name": user.display_name,
        "display_name_normalized": user.display_name,
        "team": team_id,
    }
    if user.email:
        profile["email"] = user.email
    if user.bot_id:
        profile["bot_id"] = user.bot_id
    return {
        "id": user.id,
        "team_id": team_id,
        "name": user.name,
        "deleted": user.deleted,
        "real_name": user.real_name,
        "tz": user.tz,
        "tz_label": user.tz,
        "tz_offset": user.tz_offset,
        "is_admin": user.is_admin,
        "is_owner": user.is_owner,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": user.is_bot,
        "is_app_user": False,
        "updated": EPOCH,
        "profile": profile,
    }


def channel_json(channel: Channel, team_id: str, bot_user_id: str) -> dict[str, Any]:
    """conversations.info's shape; `is_member` is the bot's membership."""
    shown: dict[str, Any] = {
        "id": channel.id,
        "created": EPOCH,
        "is_archived": False,
        "is_member": bot_user_id in channel.members,
        "context_team_id": team_id,
    }
    if channel.is_im:
        return shown | {"is_im": True, "is_private": True, "user": channel.user}
    return shown | {
        "name": channel.name,
        "name_normalized": channel.name,
        "is_channel": True,
        "is_group": False,
        "is_im": False,
        "is_mpim": False,
        "is_private": channel.is_private,
        "is_general": channel.name == "general",
    }


def view_json(
    definition: dict[str, Any],
    *,
    view_id: str,
    hash: str,
    root_view_id: str,
    previous_view_id: str | None,
    team_id: str,
    app_id: str,
    bot_id: str,
) -> dict[str, Any]:
    """A view as views.open/push/update/publish answer with it, from what the app sent."""
    return {
        "private_metadata": "",
        "callback_id": "",
        "external_id": "",
        **definition,
        "id": view_id,
        "team_id": team_id,
        "state": {"values": {}},
        "hash": hash,
        "root_view_id": root_view_id,
        "previous_view_id": previous_view_id,
        "app_id": app_id,
        "app_installed_team_id": team_id,
        "bot_id": bot_id,
    }


# Parameters


def required(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not value:
        raise LocalSlackError("invalid_arguments", f"[ERROR] missing required field: {name}")
    return str(value)


def decoded(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        raise LocalSlackError(f"invalid_{name}") from None


def flag(params: dict[str, Any], name: str) -> bool:
    return str(params.get(name, "")).lower() in {"true", "1"}


def listed(value: Any) -> list[str]:
    return [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)


def dm_id(user: str) -> str:
    return f"D{user[1:]}"


def content(params: dict[str, Any], *, partial: bool = False) -> tuple[Any, Any, Any]:
    """text, blocks, attachments; None for those absent when `partial` (chat.update)."""
    text = params.get("text")
    blocks, attachments = decoded(params, "blocks"), decoded(params, "attachments")
    if not partial and not (text or blocks or attachments):
        raise LocalSlackError("no_text")
    if blocks is not None:
        check_blocks(blocks)
    if partial:
        return text, blocks, attachments
    return text or "", blocks or [], attachments or []


def check_blocks(
    blocks: Any, limit: int = MESSAGE_BLOCK_LIMIT, error: str = "invalid_blocks"
) -> None:
    """The Block Kit limits that most often bite: count, text lengths, duplicate block_ids."""
    if not isinstance(blocks, list) or len(blocks) > limit:
        raise LocalSlackError(
            error, f"[ERROR] no more than {limit} items allowed [json-pointer:/blocks]"
        )
    seen: set[str] = set()
    for index, block in enumerate(blocks):
        if not isinstance(block, dict) or "type" not in block:
            raise LocalSlackError(
                error, f"[ERROR] missing required field: type [json-pointer:/blocks/{index}]"
            )
        text = block.get("text")
        text = text.get("text", "") if isinstance(text, dict) else ""
        longest = {"section": 3000, "header": 150}.get(block["type"])
        if longest and len(text) > longest:
            raise LocalSlackError(
                error,
                f"[ERROR] must be less than {longest + 1} characters "
                f"[json-pointer:/blocks/{index}/text/text]",
            )
        if block.get("block_id") in seen:
            raise LocalSlackError(
                error, f"[ERROR] duplicate block_id [json-pointer:/blocks/{index}]"
            )
        seen.add(block.get("block_id") or f"#{index}")


def view_definition(params: dict[str, Any], kind: str) -> dict[str, Any]:
    """The `view` param, checked against the modal / Home limits Slack enforces."""
    view = decoded(params, "view")
    if not isinstance(view, dict) or view.get("type") != kind:
        raise LocalSlackError("invalid_arguments", f"[ERROR] view.type must be {kind}")
    check_blocks(view.get("blocks", []), VIEW_BLOCK_LIMIT, "invalid_arguments")
    for part in ("title", "submit", "close"):
        text = (view.get(part) or {}).get("text", "")
        if len(text) > 24:
            raise LocalSlackError(
                "invalid_arguments",
                f"[ERROR] must be less than 25 characters [json-pointer:/view/{part}/text]",
            )
    if kind == "modal" and not view.get("title"):
        raise LocalSlackError("invalid_arguments", "[ERROR] missing required field: title")
    has_input = any(block.get("type") == "input" for block in view.get("blocks", []))
    if kind == "modal" and has_input and not view.get("submit"):
        raise LocalSlackError(
            "invalid_arguments", "[ERROR] must provide a submit button when input blocks are used"
        )
    if len(str(view.get("private_metadata", ""))) > 3000:
        raise LocalSlackError("invalid_arguments", "[ERROR] private_metadata too long")
    return view


def page(items: list[T], params: dict[str, Any], *, default_limit: int) -> tuple[list[T], str]:
    """One page and the next cursor ("" at the end); limit 0 means everything."""
    cursor = str(params.get("cursor") or "")
    try:
        start = int(base64.b64decode(cursor).decode().removeprefix("offset:")) if cursor else 0
    except ValueError:
        raise LocalSlackError("invalid_cursor") from None
    try:
        limit = int(params.get("limit") or default_limit)
    except ValueError:
        raise LocalSlackError("invalid_limit") from None
    end = len(items) if limit <= 0 else start + limit
    following = base64.b64encode(f"offset:{end}".encode()).decode() if end < len(items) else ""
    return items[start:end], following


def ts_bound(params: dict[str, Any], name: str, default: Decimal) -> Decimal:
    try:
        return Decimal(str(params[name])) if params.get(name) else default
    except InvalidOperation:
        raise LocalSlackError(f"invalid_ts_{name}") from None


def utc_offset(tz: str) -> int:
    try:
        offset = datetime.now(ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return int(offset.total_seconds()) if offset else 0


def completed_files(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The `files` param of files.completeUploadExternal (a JSON string over form encoding)."""
    files = params.get("files") or []
    return json.loads(files) if isinstance(files, str) else list(files)


def completed_channels(params: dict[str, Any]) -> list[str]:
    """Where files.completeUploadExternal shares: `channel_id` or comma-separated `channels`."""
    if params.get("channel_id"):
        return [str(params["channel_id"])]
    channels = params.get("channels") or []
    return channels.split(",") if isinstance(channels, str) else list(channels)
