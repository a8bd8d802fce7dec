"""The one way Lepton builds a Slack Web API client: every call goes to SLACK_API_URL and 429s
are waited out and retried."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.settings import Settings


def web_client(
    settings: Settings, token: str | None = None, *, retry_uncertain: bool = True
) -> WebClient:
    """`retry_uncertain=False` for messages Lepton sends on its own: no retries inside the
    client at all. A 500 or a dropped connection may hide a message Slack did post, and
    waiting out a 429 would hold a claim other workers may take over; the outbox retries
    instead, after Retry-After, and looks for the message before sending it again."""
    bot_token = token or (
        settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    )
    handlers: list[RetryHandler] = []
    if retry_uncertain:
        handlers = [
            RateLimitErrorRetryHandler(max_retry_count=5),
            ServerErrorRetryHandler(max_retry_count=2),
            ConnectionErrorRetryHandler(max_retry_count=2),
        ]
    return WebClient(token=bot_token, base_url=settings.slack_api_url, retry_handlers=handlers)
