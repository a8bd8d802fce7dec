"""Requests shaped and signed exactly as Slack sends them, for the local console (and tests)
to drive the real Bolt app without a workspace.

Slack sends slash commands form-encoded, events as a JSON envelope, and interactions as a
form field `payload` holding JSON; each request carries `X-Slack-Signature`, an HMAC-SHA256 of
`v0:{timestamp}:{body}` keyed by the signing secret.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from bot.signing import signature

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
_counter = itertools.count(1)


@dataclass(frozen=True)
class SlackRequest:
    body: str
    content_type: str
    extra_headers: dict[str, str] = field(default_factory=dict)

    def headers(self, signing_secret: str, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        return {
            "Content-Type": self.content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature(signing_secret, stamp, self.body),
            **self.extra_headers,
        }


def unique_id(prefix: str) -> str:
    return f"{prefix}{int(time.time())}{next(_counter):06d}"


def new_trigger_id() -> str:
    """Shaped like Slack's (digits.digits.hex) and unique across runs, as Slack's are."""
    return (
        f"{int(time.time())}{next(_counter):06d}.{secrets.randbelow(10**9)}.{secrets.token_hex(10)}"
    )


@dataclass(frozen=True)
class Actor:
    """Who is doing something, and where."""

    team_id: str
    user_id: str
    user_name: str
    channel_id: str
    channel_name: str = "general"
    team_domain: str = "acme"


def command(
    actor: Actor,
    text: str,
    response_url: str,
    trigger_id: str | None = None,
    name: str = "/lepton",
) -> SlackRequest:
    fields = {
        "token": "unused",
        "team_id": actor.team_id,
        "team_domain": actor.team_domain,
        "channel_id": actor.channel_id,
        "channel_name": actor.channel_name,
        "user_id": actor.user_id,
        "user_name": actor.user_name,
        "command": name,
        "text": text,
        "api_app_id": "ALEPTON",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }
    return SlackRequest(urlencode(fields), FORM)


def event(
    team_id: str, payload: dict[str, Any], event_id: str | None = None, retry: int | None = None
) -> SlackRequest:
    envelope = {
        "token": "unused",
        "team_id": team_id,
        "api_app_id": "ALEPTON",
        "event": payload,
        "type": "event_callback",
        "event_id": event_id or unique_id("Ev"),
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team_id, "user_id": "ULEPTONBOT", "is_bot": True}],
    }
    headers = (
        {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else {}
    )
    return SlackRequest(json.dumps(envelope), JSON, headers)


def interaction(payload: dict[str, Any]) -> SlackRequest:
    return SlackRequest(urlencode({"payload": json.dumps(payload)}), FORM)


def block_action(
    actor: Actor,
    action: dict[str, Any],
    container: dict[str, Any],
    response_url: str | None,
    message: dict[str, Any] | None = None,
    trigger_id: str | None = None,
) -> SlackRequest:
    """A button press; `container` says where the button was (a message or a view)."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": actor.team_id, "domain": actor.team_domain},
        "user": {"id": actor.user_id, "username": actor.user_name, "team_id": actor.team_id},
        "api_app_id": "ALEPTON",
        "container": container,
        "trigger_id": trigger_id or new_trigger_id(),
        "actions": [{**action, "type": "button", "action_ts": f"{time.time():.6f}"}],
    }
    if container.get("type") == "message":
        payload["channel"] = {"id": actor.channel_id, "name": actor.channel_name}
        payload["message"] = message or {"ts": container.get("message_ts")}
    if response_url:
        payload["response_url"] = response_url
    return interaction(payload)


def message_shortcut(
    actor: Actor,
    callback_id: str,
    message: dict[str, Any],
    response_url: str,
    trigger_id: str | None = None,
) -> SlackRequest:
    return interaction(
        {
            "type": "message_action",
            "callback_id": callback_id,
            "team": {"id": actor.team_id, "domain": actor.team_domain},
            "user": {"id": actor.user_id, "username": actor.user_name, "team_id": actor.team_id},
            "channel": {"id": actor.channel_id, "name": actor.channel_name},
            "message": message,
            "message_ts": message.get("ts"),
            "response_url": response_url,
            "trigger_id": trigger_id or new_trigger_id(),
        }
    )


def view_submission(actor: Actor, view: dict[str, Any], values: dict[str, str]) -> SlackRequest:
    """Submitting a modal whose inputs hold `values` (by block id): a plain-text input its text,
    a conversations select the id of the conversation picked ("" for none)."""
    elements = {
        block.get("block_id"): block.get("element") or {}
        for block in view.get("blocks", [])
        if block.get("type") == "input"
    }
    state = {
        block_id: _entered(elements.get(block_id, {}), text) for block_id, text in values.items()
    }
    submitted = {**view, "state": {"values": state}}
    return interaction(
        {
            "type": "view_submission",
            "team": {"id": actor.team_id, "domain": actor.team_domain},
            "user": {"id": actor.user_id, "username": actor.user_name, "team_id": actor.team_id},
            "api_app_id": "ALEPTON",
            "trigger_id": new_trigger_id(),
            "view": submitted,
        }
    )


def _entered(element: dict[str, Any], text: str) -> dict[str, Any]:
    """One input's state as Slack sends it, under the element's action id."""
    action_id = element.get("action_id") or "value"
    if element.get("type") == "conversations_select":
        return {action_id: {"type": "conversations_select", "selected_conversation": text or None}}
    return {action_id: {"type": "plain_text_input", "value": text}}
