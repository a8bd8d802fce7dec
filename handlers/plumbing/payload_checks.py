"""Telling a well-formed Slack payload from a garbled one before acting on it.

Slack's ids have a known shape and its payloads known types; anything else is a truncated,
corrupted or forged request. Handlers check the fields they rely on first and, when one is
wrong, say so in one line and change nothing, instead of failing half-way with a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
TS = re.compile(r"^\d{1,12}\.\d{1,9}$")
TRIGGER_ID = re.compile(r"^\d{1,20}\.[A-Za-z0-9]{1,32}\.[0-9a-f]{6,64}$")
"""Slack's shape, like 13345224609.738474920.8088930838d88f008e0."""
INCOMPLETE = "Slack sent that without a valid {field}, so I did nothing. Please try again."


def incomplete(field: str) -> str:
    """The one line a person gets when their request arrived garbled."""
    return INCOMPLETE.format(field=f"`{field}`")


def text(value: Any) -> str:
    """A string field's value, or "" when it is missing or not a string."""
    return value if isinstance(value, str) else ""


def part(body: Any, *keys: str) -> Any:
    """body[k1][k2]..., or None where a level is missing or not an object."""
    for key in keys:
        if not isinstance(body, Mapping):
            return None
        body = body.get(key)
    return body


def user_id(value: Any) -> str | None:
    return value if isinstance(value, str) and USER_ID.match(value) else None


def channel_id(value: Any) -> str | None:
    return value if isinstance(value, str) and CHANNEL_ID.match(value) else None


def message_ts(value: Any) -> str | None:
    return value if isinstance(value, str) and TS.match(value) else None


def trigger_id(value: Any) -> str | None:
    return value if isinstance(value, str) and TRIGGER_ID.match(value) else None


def url(value: Any) -> str | None:
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None
