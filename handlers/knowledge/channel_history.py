"""Live channel history through the Slack Web API -> thread documents.

The threading rules live in the Slack-free `indexer.ingest.slack_threads`; this module only pages
through the API, waits out rate limits and turns membership errors into an actionable skip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.web import SlackResponse

from indexer.ingest.documents import LoadResult, Skipped
from indexer.ingest.slack_threads import (
    default_permalink,
    referenced_user_ids,
    threads_to_documents,
)

PAGE_SIZE = 200
MAX_RATE_LIMIT_RETRIES = 5
_NOT_MEMBER_ERRORS = frozenset({"not_in_channel", "channel_not_found"})


def fetch_channel_documents(
    client: WebClient,
    channel_id: str,
    *,
    oldest: float | None = None,
    workspace_url: str | None = None,
) -> LoadResult:
    """Every thread in the channel (parents newer than `oldest`, with all their replies).

    A channel the bot cannot read comes back as a Skipped telling a person how to fix it.
    """
    ensure_rate_limit_retries(client)
    auth = client.auth_test()
    source_prefix = f"slack:{auth['team_id']}"
    base_url = (workspace_url or auth.get("url") or "https://slack.com").rstrip("/")

    name = channel_id
    try:
        info = client.conversations_info(channel=channel_id)["channel"]
        name = info.get("name") or channel_id
        history = list(_history(client, channel_id, oldest))
        messages = list(history)
        for parent in history:
            if parent.get("reply_count", 0) > 0:
                messages.extend(_replies(client, channel_id, parent.get("thread_ts", parent["ts"])))
    except SlackApiError as exc:
        if exc.response.get("error") not in _NOT_MEMBER_ERRORS:
            raise
        reason = f"bot is not a member of #{name}: invite it with /invite @lepton"
        return LoadResult(skipped=[Skipped(f"{source_prefix}/{channel_id}", reason)])

    users = _real_names(client, referenced_user_ids(messages))
    documents, skipped = threads_to_documents(
        messages,
        channel_id=channel_id,
        channel_name=name,
        users=users,
        permalink=default_permalink(base_url),
        restricted=bool(info.get("is_private")),
        source_prefix=source_prefix,
    )
    return LoadResult(documents=documents, skipped=skipped, files_read=1)


def ensure_rate_limit_retries(client: WebClient) -> None:
    """Make HTTP 429s wait for Retry-After and try again instead of failing the fetch."""
    if not any(isinstance(h, RateLimitErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(
            RateLimitErrorRetryHandler(max_retry_count=MAX_RATE_LIMIT_RETRIES)
        )


def _history(client: WebClient, channel_id: str, oldest: float | None) -> Iterator[dict[str, Any]]:
    params: dict[str, Any] = {"channel": channel_id, "limit": PAGE_SIZE}
    if oldest is not None:
        params["oldest"] = f"{oldest:.6f}"
    yield from _pages(lambda cursor: client.conversations_history(**params, cursor=cursor))


def _replies(client: WebClient, channel_id: str, thread_ts: str) -> Iterator[dict[str, Any]]:
    yield from _pages(
        lambda cursor: client.conversations_replies(
            channel=channel_id, ts=thread_ts, limit=PAGE_SIZE, cursor=cursor
        )
    )


def _pages(call: Callable[[str | None], SlackResponse]) -> Iterator[dict[str, Any]]:
    """Messages from every page of a cursor-paginated method."""
    cursor: str | None = None
    while True:
        response = call(cursor)
        yield from response.get("messages") or []
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return


def _real_names(client: WebClient, user_ids: set[str]) -> dict[str, str]:
    """One users.info per person; someone Slack cannot find keeps their id as name."""
    names: dict[str, str] = {}
    for user_id in sorted(user_ids):
        try:
            user = client.users_info(user=user_id)["user"]
        except SlackApiError:
            continue
        profile = user.get("profile") or {}
        name = profile.get("real_name") or user.get("real_name") or user.get("name")
        if name:
            names[user_id] = name
    return names
