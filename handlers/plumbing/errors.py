"""The last line: an unexpected failure is logged with a short reference, and the person gets a
one-line apology with that reference, never a traceback. The database being away is expected
(it comes back): the person is told to try again shortly, with no reference to report."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from handlers.knowledge import replies
from handlers.plumbing import payload_checks
from handlers.plumbing.database_guard import database_unavailable

log = logging.getLogger(__name__)


def register(app: App) -> None:
    @app.error
    def on_error(
        error: Exception, body: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        if database_unavailable(error):
            log.warning("database unavailable, told the person to try again: %s", error)
            message = replies.DATABASE_AWAY
        else:
            reference = uuid.uuid4().hex[:8]
            log.error("unhandled error, reference %s", reference, exc_info=error)
            message = replies.apology(reference)
        try:
            tell(client, body, context.response_url, message)
        except Exception:
            log.exception("could not tell the person: %s", message)


def tell(client: WebClient, body: dict[str, Any], response_url: str | None, text: str) -> None:
    """Reach the person behind a request the quietest way it allows: `response_url` is the one
    Bolt found (in `response_url` or a modal's `response_urls`). The body may be the garbled one
    that caused the failure, so every field is checked before it is used."""
    response_url = payload_checks.url(response_url)
    user = payload_checks.user_id(body.get("user_id")) or payload_checks.user_id(
        payload_checks.part(body, "user", "id")
    )
    event_user = payload_checks.user_id(payload_checks.part(body, "event", "user"))
    event_channel = payload_checks.channel_id(payload_checks.part(body, "event", "channel"))
    if response_url:
        WebhookClient(response_url).send(
            text=text, response_type="ephemeral", replace_original=False
        )
    elif event_user and event_channel:
        client.chat_postEphemeral(
            channel=event_channel,
            user=event_user,
            text=text,
            thread_ts=payload_checks.message_ts(payload_checks.part(body, "event", "thread_ts")),
        )
    elif user:
        client.chat_postMessage(channel=user, text=text)
