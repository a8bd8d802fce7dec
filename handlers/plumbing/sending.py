"""Posting a message exactly once, and turning Slack's failures into the outcomes
`people.outbox` understands.

Each message carries a key in Slack message metadata. When an earlier attempt may have reached
Slack (a 500, a timeout, a process killed after posting), the caller passes `retry=True` and the
channel's (or thread's) recent messages are searched for that key before posting again. Messages
Lepton starts itself are retried later by the outbox; an answer someone is waiting for is
retried at once by `post_now`.
"""

from __future__ import annotations

import re
import time
import urllib.error
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from people.outbox import Delivered, GiveUp, RetryLater

METADATA_TYPE = "lepton_message"
HISTORY_LOOKBACK = 200
RELIST_SECONDS = 60.0
WAITING_PAUSES = (1.0, 3.0)
"""Seconds between the attempts at a message someone is waiting for: three tries in all."""
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
NEVER_WORKS = frozenset(
    {
        "account_inactive",
        "cannot_dm_bot",
        "channel_not_found",
        "invalid_blocks",
        "is_archived",
        "msg_too_long",
        "not_allowed_token_type",
        "restricted_action",
        "user_disabled",
        "user_not_found",
        "user_not_visible",
        "users_not_found",
    }
)


@contextmanager
def slack_outcomes() -> Iterator[None]:
    """429s, server errors and network failures retry later; errors that will never go away
    give up with Slack's error code; anything else also retries, bounded by the outbox."""
    try:
        yield
    except SlackApiError as error:
        status = error.response.status_code
        code = str(error.response.get("error") or f"http_{status}")
        if code in NEVER_WORKS:
            raise GiveUp(code) from error
        after = float(error.response.headers.get("Retry-After", 0) or 0)
        raise RetryLater(code, after, outage=status >= 500) from error
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise RetryLater(type(error).__name__, outage=True) from error


def post_once(
    client: WebClient,
    channel: str,
    key: str,
    retry: bool,
    *,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    thread_ts: str | None = None,
    unfurl: bool | None = None,
) -> Delivered:
    with slack_outcomes():
        if retry and (ts := _find(client, channel, lambda m: _key(m) == key, thread_ts)):
            return Delivered(channel, ts)
        response = client.chat_postMessage(
            channel=channel,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            unfurl_links=unfurl,
            unfurl_media=unfurl,
            metadata={"event_type": METADATA_TYPE, "event_payload": {"key": key}},
        )
        return Delivered(str(response["channel"]), str(response["ts"]))


def post_now(
    client: WebClient,
    channel: str,
    key: str,
    *,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    thread_ts: str | None = None,
    unfurl: bool | None = None,
    pauses: Sequence[float] = WAITING_PAUSES,
    look_first: bool = False,
) -> Delivered:
    """`post_once` for a message someone is waiting for: Slack being down or busy is retried
    in place, and after a 500 or a timeout the message is looked for before it is posted again
    (`look_first`: before the first attempt too, for a key an earlier request may have posted).
    Raises GiveUp, or the last RetryLater when Slack still fails (or refuses for another
    reason, which waiting will not change)."""
    attempt = partial(
        post_once,
        client,
        channel,
        key,
        text=text,
        blocks=blocks,
        thread_ts=thread_ts,
        unfurl=unfurl,
    )
    uncertain = look_first
    for pause in pauses:
        try:
            return attempt(uncertain)
        except RetryLater as error:
            if not (error.outage or error.after):
                raise
            uncertain = uncertain or error.outage
            time.sleep(max(pause, error.after))
    return attempt(uncertain)


def upload_once(
    client: WebClient, channel: str, filename: str, retry: bool, *, data: bytes, title: str
) -> Delivered:
    """A file shared in a channel; `filename` must be unique, it is how a retry recognises it."""
    with slack_outcomes():
        found = retry and _find(
            client, channel, lambda m: any(f.get("name") == filename for f in m.get("files", []))
        )
        if found:
            return Delivered(channel, found)
        response = client.files_upload_v2(
            channel=channel, file=data, filename=filename, title=title
        )
        file = response.get("file") or (response.get("files") or [{}])[0]
        return Delivered(channel, str(file.get("id", "")))


def dm_channel(client: WebClient, user_id: str) -> str:
    with slack_outcomes():
        return str(client.conversations_open(users=user_id)["channel"]["id"])


class ChannelNames:
    """Channel ids for the `#name`s people write in config files, listed once and listed again
    only when a name is missing (a channel created since); the bot joins a public channel it
    is asked to post in."""

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._ids: dict[str, str] = {}
        self._listed_at: float | None = None

    def id(self, ref: str) -> str:
        if CHANNEL_ID.match(ref):
            return ref
        name = ref.removeprefix("#")
        stale = self._listed_at is None or time.monotonic() - self._listed_at > RELIST_SECONDS
        if name not in self._ids and stale:
            with slack_outcomes():
                self._ids = {
                    c["name"]: c["id"]
                    for page in self.client.conversations_list(
                        types="public_channel,private_channel", exclude_archived=True, limit=200
                    )
                    for c in page.get("channels", [])
                }
            self._listed_at = time.monotonic()
        if name not in self._ids:
            raise GiveUp("channel_not_found")
        return self._ids[name]

    def deliver(self, ref: str, send: Callable[[str], Delivered]) -> Delivered:
        """`send` to the channel `ref` names; a public channel the bot is not in is joined
        first, so a digest channel works without an /invite."""
        channel = self.id(ref)
        try:
            return send(channel)
        except RetryLater as error:
            if error.reason != "not_in_channel":
                raise
        with slack_outcomes():
            self.client.conversations_join(channel=channel)
        return send(channel)


def _key(message: dict[str, Any]) -> str | None:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != METADATA_TYPE:
        return None
    return (metadata.get("event_payload") or {}).get("key")


def _find(client: WebClient, channel: str, match: Any, thread_ts: str | None = None) -> str | None:
    """The ts of a recent message of Lepton's own bot that `match`es: in the channel, or in
    the thread `thread_ts`. Anyone can post a message carrying a guessed key (another app sets
    metadata too); counting theirs as ours would mark a message sent that nobody received."""
    me = client.auth_test()
    own = {value for value in (me.get("user_id"), me.get("bot_id")) if value}
    if thread_ts:
        recent = client.conversations_replies(
            channel=channel, ts=thread_ts, limit=HISTORY_LOOKBACK, include_all_metadata=True
        )
    else:
        recent = client.conversations_history(
            channel=channel, limit=HISTORY_LOOKBACK, include_all_metadata=True
        )
    return next(
        (
            str(m["ts"])
            for m in recent.get("messages", [])
            if own & {m.get("user"), m.get("bot_id")} and match(m)
        ),
        None,
    )
