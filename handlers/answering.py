"""One question -> one posted, recorded answer, shared by the slash command, mentions, DMs and
"More results", so every surface ranks, logs, posts and records the same way."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.blocks import Block, answer_blocks, fallback_text
from indexer.answer_log import PostedAnswer, record_answer
from indexer.questions import Asked
from indexer.ranker import Ranking

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)
CANNOT_POST_HERE = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "restricted_action",
        "cannot_reply_to_message",
    }
)


@dataclass(frozen=True)
class Where:
    """Where an answer goes; `thread_ts` makes it a thread reply."""

    channel_id: str
    thread_ts: str | None = None

    @property
    def is_dm(self) -> bool:
        return self.channel_id.startswith("D")


@dataclass(frozen=True)
class Posted:
    where: Where
    message_ts: str
    ranking: Ranking


class CannotPost(Exception):
    """The bot may not post where the question was asked (not a member, archived, ...)."""


def visible_channels(
    services: Services, client: WebClient, asked: Asked, where: Where
) -> frozenset[str]:
    """Restricted snippets may be shown only where everyone who can read the answer may see
    them: in a channel, that channel's own; in a DM, the asker's private channels."""
    if where.is_dm and asked.user_id:
        own = services.membership.private_channels(client, asked.team_id, asked.user_id)
        return own | {where.channel_id}
    return frozenset({where.channel_id})


def post_answer(
    services: Services,
    client: WebClient,
    asked: Asked,
    query: str,
    where: Where,
    *,
    offset: int = 0,
    query_id: int | None = None,
    header: str | None = None,
) -> Posted:
    """Rank, post as a real message (so people can react), and record what it showed.
    Raises CannotPost when Slack refuses the channel (the question is logged once anyway)."""
    channels = visible_channels(services, client, asked, where)
    ranking, logged_id = services.questions.ask(query, asked, channels, offset=offset)
    return post_ranking(
        services,
        client,
        asked,
        query,
        ranking,
        where,
        offset=offset,
        query_id=logged_id if logged_id is not None else query_id,
        header=header,
    )


def post_ranking(
    services: Services,
    client: WebClient,
    asked: Asked,
    query: str,
    ranking: Ranking,
    where: Where,
    *,
    offset: int = 0,
    query_id: int | None = None,
    header: str | None = None,
) -> Posted:
    blocks: list[Block] = []
    if header:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": header}]})
    blocks.extend(answer_blocks(ranking, query, offset))
    try:
        response = client.chat_postMessage(
            channel=where.channel_id,
            thread_ts=where.thread_ts,
            blocks=blocks,
            text=fallback_text(ranking, query),
            unfurl_links=False,
            unfurl_media=False,
        )
    except SlackApiError as exc:
        if exc.response.get("error") in CANNOT_POST_HERE:
            raise CannotPost(str(exc.response.get("error"))) from exc
        raise
    message_ts = str(response["ts"])
    record_answer(
        services.sessions,
        PostedAnswer(
            channel_id=str(response.get("channel") or where.channel_id),
            message_ts=message_ts,
            query_id=query_id,
            team_id=asked.team_id,
            thread_ts=where.thread_ts,
            asker_user_id=asked.user_id,
        ),
        ranking,
        offset,
    )
    return Posted(where, message_ts, ranking)


def open_dm(client: WebClient, user_id: str) -> Where:
    response = client.conversations_open(users=user_id)
    return Where(str(response["channel"]["id"]))
