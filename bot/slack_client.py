"""The one way Lepton builds a Slack Web API client: every call goes to SLACK_API_URL, gives up
after SLACK_TIMEOUT_SECONDS, and 429s are waited out and retried.

A 500 or a dropped connection does not say whether Slack did the work, so only calls that are
safe to repeat (reads, and writes that set a state rather than add something) are retried
inside the client. A message is never re-posted blindly: whoever posts it attaches a key and
looks for it in Slack first (`handlers.plumbing.sending`)."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry import RetryHandler
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest

from bot.settings import Settings

READ_VERBS = ("list", "info", "history", "replies", "members", "conversations", "get", "lookup")
SAME_STATE_WRITES = frozenset(
    {
        "auth.test",
        "chat.update",
        "conversations.join",
        "conversations.open",
        "views.publish",
        "views.update",
    }
)


def repeatable(method: str) -> bool:
    """Whether doing `method` twice has the same effect as doing it once."""
    verb = method.rsplit(".", 1)[-1]
    return method in SAME_STATE_WRITES or verb.startswith(READ_VERBS)


class _OnlyRepeatable(RetryHandler):
    """Wraps a retry handler for uncertain failures so it retries only repeatable methods."""

    def __init__(self, inner: RetryHandler) -> None:
        super().__init__(inner.max_retry_count, inner.interval_calculator)
        self.inner = inner

    def _can_retry(self, *, request: HttpRequest, **kwargs: Any) -> bool:
        method = request.url.split("?", 1)[0].rsplit("/", 1)[-1]
        return repeatable(method) and self.inner._can_retry(request=request, **kwargs)


def web_client(
    settings: Settings, token: str | None = None, *, retry_uncertain: bool = True
) -> WebClient:
    """`retry_uncertain=False` for messages Lepton sends on its own: no retries inside the
    client at all. Waiting out a 429 would hold a claim other workers may take over; the outbox
    retries instead, after Retry-After, and looks for the message before sending it again."""
    bot_token = token or (
        settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    )
    handlers: list[RetryHandler] = []
    if retry_uncertain:
        handlers = [
            RateLimitErrorRetryHandler(max_retry_count=5),
            _OnlyRepeatable(ServerErrorRetryHandler(max_retry_count=2)),
            _OnlyRepeatable(ConnectionErrorRetryHandler(max_retry_count=2)),
        ]
    return WebClient(
        token=bot_token,
        base_url=settings.slack_api_url,
        timeout=settings.slack_timeout_seconds,
        retry_handlers=handlers,
    )
