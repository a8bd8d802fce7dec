"""Which recorded answer a button was pressed on, and the *Share to channel* button.

An answer posted as a message (in a channel, a thread or a DM) is recorded under its channel and
ts, the ones Slack sends with every press on it. A private answer is an ephemeral: only the
asker sees it, and it has no ts anyone can look up later (one sent through a response_url has
none at all). It is recorded under a key of its own instead, which every actions block of the
ephemeral carries at the end of its block id, so Helpful, More results, Why these? and Share
find it the same way.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from handlers.plumbing import payload_checks
from handlers.plumbing.blocks import Block, button

SHARE = "share_answer"
SHARE_LABEL = "Share to channel"
PRIVATE_PREFIX = "private-"
PRIVATE_KEY = re.compile(r"^private-[0-9a-f]{20}$")
"""28 characters: it stands where a message ts would (32 at most)."""
KEY_MARK = "~"


def new_private_key() -> str:
    return f"{PRIVATE_PREFIX}{uuid.uuid4().hex[:20]}"


def is_private_key(ref: str) -> bool:
    return bool(PRIVATE_KEY.match(ref))


def share_button(key: str | None = None) -> Block:
    """On a private answer (its key) or a DM answer (the message it is on)."""
    return button(SHARE_LABEL, SHARE, key or "message")


def tag_private(blocks: list[Block], key: str) -> list[Block]:
    """The blocks of a private answer, each actions block's id ending in its key."""
    return [
        {**b, "block_id": f"{b.get('block_id') or 'actions'}{KEY_MARK}{key}"}
        if b.get("type") == "actions"
        else b
        for b in blocks
    ]


def answer_ref(body: dict[str, Any]) -> tuple[str, str]:
    """The pressed answer's channel, and its private key or else its message ts; "" for either
    when the payload holds no valid one."""
    channel = payload_checks.channel_id(
        payload_checks.part(body, "container", "channel_id")
    ) or payload_checks.channel_id(payload_checks.part(body, "channel", "id"))
    actions = body.get("actions")
    pressed = actions[0] if isinstance(actions, list) and actions else {}
    block_id = payload_checks.text(payload_checks.part(pressed, "block_id"))
    _, mark, key = block_id.rpartition(KEY_MARK)
    if mark and is_private_key(key):
        return channel or "", key
    message_ts = payload_checks.message_ts(
        payload_checks.part(body, "container", "message_ts")
    ) or payload_checks.message_ts(payload_checks.part(body, "message", "ts"))
    return channel or "", message_ts or ""
