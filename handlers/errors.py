"""The last line: an unexpected failure is logged with a short reference, and the person gets a
one-line apology with that reference, never a traceback. The database being away is expected
(it comes back): the person is told to try again shortly, with no reference to report."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from handlers import replies
from handlers.database_guard import database_unavailable

log = logging.getLogger(__name__)


def register(app: App) -> None:
    @app.error
    def on_error(error: Exception, body: dict[str, Any], client: WebClient) -> None:
        if database_unavailable(error):
            log.warning("database unavailable, told the person to try again: %s", error)
            message = replies.DATABASE_AWAY
        else:
            reference = uuid.uuid4().hex[:8]
            log.error("unhandled error, reference %s", reference, exc_info=error)
            message = replies.apology(reference)
        try:
            tell(client, body, message)
        except Exception:
            log.exception("could not tell the person: %s", message)


def tell(client: WebClient, body: dict[str, Any], text: str) -> None:
    """Reach the person behind a request the quietest way it allows."""
    response_url = body.get("response_url") or next(
        (u.get("response_url") for u in body.get("response_urls") or [] if u.get("response_url")),
        None,
    )
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    event = body.get("event") or {}
    if response_url:
        WebhookClient(response_url).send(
            text=text, response_type="ephemeral", replace_original=False
        )
    elif event.get("user") and event.get("channel"):
        client.chat_postEphemeral(
            channel=event["channel"],
            user=event["user"],
            text=text,
            thread_ts=event.get("thread_ts"),
        )
    elif user:
        client.chat_postMessage(channel=user, text=text)
