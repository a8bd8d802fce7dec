"""Who is in the workspace, as the scheduler needs it: survey audiences and everyone's time
zone, from one paginated `users.list` pass per scheduler run plus `conversations.members`."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from slack_sdk import WebClient

from handlers.plumbing.sending import RELIST_SECONDS, ChannelNames, slack_outcomes
from people.surveys.definitions import SurveyDefinition
from people.surveys.rounds import Member

SLACKBOT = "USLACKBOT"
PEOPLE_TTL_SECONDS = 15 * 60.0


class SlackDirectory:
    """Audiences from `users.list` (one paginated pass gives everyone's time zone) and
    `conversations.members`."""

    def __init__(self, client: WebClient, channels: ChannelNames) -> None:
        self.client, self.channels = client, channels
        self._people: dict[str, dict[str, Any]] = {}
        self._listed_at: float | None = None

    def people(self, refresh_after: float = PEOPLE_TTL_SECONDS) -> dict[str, dict[str, Any]]:
        """Every active person (no bots, no deactivated accounts); `users.list` is paged
        through again only when the last listing is older than `refresh_after` seconds, so the
        scheduler does not walk the whole directory on every run."""
        if self._listed_at is None or time.monotonic() - self._listed_at > refresh_after:
            with slack_outcomes():
                self._people = {
                    u["id"]: u
                    for page in self.client.users_list(limit=200)
                    for u in page.get("members", [])
                    if not (u.get("deleted") or u.get("is_bot") or u["id"] == SLACKBOT)
                }
            self._listed_at = time.monotonic()
        return self._people

    def zones(self, user_ids: Sequence[str]) -> dict[str, str | None]:
        """Time zones; someone not seen before (a new hire) makes the list be read again."""
        if not user_ids:
            return {}
        people = self.people()
        if any(u not in people for u in user_ids):
            people = self.people(refresh_after=RELIST_SECONDS)
        return {u: (people.get(u) or {}).get("tz") for u in user_ids}

    def find_person(self, named: str) -> str | None:
        """The user a front-matter owner names, by email or full or display name (case and
        spacing aside); None for a team name or anyone not in the workspace. A miss does not
        list people again: owners are mostly team names, which always miss."""
        return self._named(" ".join(named.lower().split()), self.people())

    @staticmethod
    def _named(wanted: str, people: dict[str, dict[str, Any]]) -> str | None:
        for user_id, user in people.items():
            profile = user.get("profile") or {}
            known = (
                profile.get("email"),
                user.get("real_name"),
                profile.get("real_name"),
                profile.get("display_name"),
            )
            if any(wanted == " ".join(str(k).lower().split()) for k in known if k):
                return user_id
        return None

    def audience(self, definition: SurveyDefinition) -> list[Member]:
        """Listed afresh: a round is planned once, and must include everyone there today."""
        people = self.people(refresh_after=0)
        with slack_outcomes():
            if not definition.channels:
                return [Member(uid, u.get("tz")) for uid, u in people.items()]
            members: list[Member] = []
            for ref in definition.channels:
                segment = ref.removeprefix("#") if definition.segment_by_channel else None
                for page in self.client.conversations_members(
                    channel=self.channels.id(ref), limit=200
                ):
                    members += [
                        Member(uid, people[uid].get("tz"), segment)
                        for uid in page.get("members", [])
                        if uid in people
                    ]
            return members
