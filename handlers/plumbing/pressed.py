"""Who pressed a button (or submitted a modal, or used a shortcut), and answering only them.

A press on a message carries a `response_url`; one in the App Home or a modal does not, so the
answer goes to the person's DM instead. A payload whose user id or response_url is garbled has
nobody to answer: it is logged and skipped, and nothing changes.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient

from handlers.plumbing import payload_checks
from handlers.plumbing.blocks import Block

log = logging.getLogger(__name__)


def presser(body: dict[str, Any]) -> str | None:
    """The user id of whoever acted, or None (logged) when the payload is garbled."""
    user = payload_checks.user_id(payload_checks.part(body, "user", "id"))
    given_url = body.get("response_url")
    if user is None or (given_url is not None and not payload_checks.url(given_url)):
        log.warning("skipped a garbled %s payload", payload_checks.text(body.get("type")))
        return None
    return user


def answer(
    client: WebClient,
    body: dict[str, Any],
    respond: Respond,
    text: str,
    *,
    blocks: list[Block] | None = None,
    replace: bool = False,
) -> None:
    """Under the message pressed (replacing it when `replace`), else in a DM. Call only after
    `presser(body)` accepted the payload."""
    if payload_checks.url(body.get("response_url")):
        if replace:
            respond(text=text, blocks=blocks, replace_original=True)
        else:
            respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
        return
    client.chat_postMessage(channel=body["user"]["id"], text=text, blocks=blocks)
