"""Which private channels a person is in, asked of Slack and cached briefly, so answers in a DM
can include snippets from those channels and someone who leaves stops seeing them soon after."""

from __future__ import annotations

import logging
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)
CACHE_SECONDS = 60.0


class Membership:
    def __init__(self, ttl: float = CACHE_SECONDS) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[tuple[str | None, str], tuple[float, frozenset[str]]] = {}

    def private_channels(
        self, client: WebClient, team_id: str | None, user_id: str
    ) -> frozenset[str]:
        """Private channels shared by the person and the bot (the only ones Lepton can have
        ingested); on any Slack error, none: a missing result beats a leaked one."""
        if not isinstance(team_id, str | None) or not isinstance(user_id, str):
            return frozenset()  # a garbled payload: show nothing private rather than fail
        key = (team_id, user_id)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
        if cached and cached[0] > now:
            return cached[1]
        channels: set[str] = set()
        try:
            for page in client.users_conversations(
                user=user_id, types="private_channel", exclude_archived=True, limit=200
            ):
                channels.update(c["id"] for c in page.get("channels", []))
        except SlackApiError as exc:
            log.warning(
                "users.conversations failed (%s); no private channels", exc.response.get("error")
            )
            return frozenset()
        found = frozenset(channels)
        with self._lock:
            self._cache[key] = (now + self.ttl, found)
        return found


def is_public(client: WebClient, channel: str) -> bool:
    """Whether Slack confirms `channel` is public; anything it cannot confirm (a DM, a private
    channel, an error) is not."""
    try:
        info = client.conversations_info(channel=channel).get("channel") or {}
    except SlackApiError:
        return False
    return not (info.get("is_private") or info.get("is_im") or info.get("is_mpim"))
