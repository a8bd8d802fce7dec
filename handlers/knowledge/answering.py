"""One question -> one posted, recorded answer, shared by the slash command, mentions, DMs and
"More results", so every surface ranks, logs, posts and records the same way (private answers
and shared ones, in `sharing`, are rendered and recorded by the same `answer_message` and
`record_posted`).

Someone is waiting, so Slack's failures are retried at once (`post_now`), and the answer carries
a key in its metadata so that a 500 or a timeout after Slack did post it never posts it twice.
What cannot be fixed by waiting becomes `NotAnswered`, whose `notice` the surface shows the
asker; nothing is then recorded as answered.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.knowledge import replies
from handlers.knowledge.answer_refs import share_button
from handlers.knowledge.blocks import answer_blocks, fallback_text
from handlers.plumbing.blocks import Block
from handlers.plumbing.sending import post_now, slack_outcomes
from handlers.plumbing.services import Services
from indexer.answers.compose import Composed
from indexer.insights.questions import Asked
from indexer.learning.answer_log import PostedAnswer, record_answer
from indexer.search.ranker import Ranking
from people.outbox import GiveUp, RetryLater

log = logging.getLogger(__name__)
SOURCES = 3
"""Results per answer: three sources and their buttons fit one screen at desktop width;
*More results* shows the next three."""
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
class AnswerRequest:
    """One question to answer, from any surface: who asked it and how, what, where the answer
    goes, and which page of the results."""

    asked: Asked
    query: str
    where: Where
    offset: int = 0
    query_id: int | None = None
    """The logged question a later page belongs to; a fresh question gets the id `ask` logs."""
    header: str | None = None
    """A context line above the results (who asked, for an answer everyone in a channel sees)."""
    dm_fallback: bool = False
    """Where the bot may not post, answer in the asker's DM instead (without the header)."""


@dataclass(frozen=True)
class Posted:
    where: Where
    message_ts: str
    ranking: Ranking
    notice: str | None = None
    """What the asker should still be told (that the answer went to their DM)."""


class NotAnswered(Exception):
    """The answer was not posted and waiting will not help; `notice` is what to tell the asker."""

    def __init__(self, reason: str, notice: str) -> None:
        super().__init__(reason)
        self.reason, self.notice = reason, notice


class CannotPost(NotAnswered):
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


def answer(
    services: Services, client: WebClient, request: AnswerRequest, tell: Callable[[str], None]
) -> None:
    """The one way a question is answered (`/lepton find`, mentions, DMs): anything the asker
    should know besides the answer (it went to their DM, or it could not be posted) is `tell`."""
    try:
        posted = post_answer(services, client, request)
    except NotAnswered as failed:
        tell(failed.notice)
        return
    if posted.notice:
        tell(posted.notice)


def post_answer(services: Services, client: WebClient, request: AnswerRequest) -> Posted:
    """Rank once, post as a real message (so people can react), and record what it showed.
    Raises NotAnswered (CannotPost when Slack refuses the channel and there is no DM fallback);
    the question is logged once anyway."""
    channels = visible_channels(services, client, request.asked, request.where)
    ranking, logged_id = services.questions.ask(
        request.query, request.asked, channels, limit=SOURCES, offset=request.offset
    )
    if logged_id is not None:
        request = replace(request, query_id=logged_id)
    try:
        return _post(services, client, request, ranking)
    except CannotPost:
        if not request.dm_fallback:
            raise
    dm = open_dm(client, str(request.asked.user_id))
    posted = _post(services, client, replace(request, where=dm, header=None), ranking)
    return replace(posted, notice=replies.SENT_TO_DM)


def _post(
    services: Services, client: WebClient, request: AnswerRequest, ranking: Ranking
) -> Posted:
    where = request.where
    shareable = where.is_dm and bool(ranking.results)  # to a channel, through `sharing`
    composed = compose(services, request, ranking)
    blocks = answer_message(request, ranking, composed, [share_button()] if shareable else [])
    try:
        posted = post_now(
            client,
            where.channel_id,
            f"answer:{uuid.uuid4().hex}",
            text=fallback_text(ranking, request.query),
            blocks=blocks,
            thread_ts=where.thread_ts,
            unfurl=False,
        )
    except (GiveUp, RetryLater) as failure:
        raise not_answered(failure) from failure
    record_posted(services, posted.channel_id, posted.ts, request, ranking, composed)
    return Posted(where, posted.ts, ranking)


def compose(services: Services, request: AnswerRequest, ranking: Ranking) -> Composed:
    """The answer line and each result's passage; *More results* pages quote nothing, since
    the answer was quoted on the first."""
    return services.answers.compose(ranking, quote=request.offset == 0)


def answer_message(
    request: AnswerRequest, ranking: Ranking, composed: Composed, extra: Sequence[Block] = ()
) -> list[Block]:
    """The answer's blocks: the request's header line, then the answer line, the results and
    follow-ups."""
    blocks: list[Block] = []
    if request.header:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": request.header}]})
    blocks.extend(answer_blocks(ranking, request.query, request.offset, extra, composed))
    return blocks


def record_posted(
    services: Services,
    channel_id: str,
    ref: str,
    request: AnswerRequest,
    ranking: Ranking,
    composed: Composed,
) -> int:
    """Record what the answer showed and what it quoted, under its message ts (or a private
    answer's key)."""
    return record_answer(
        services.sessions,
        PostedAnswer(
            channel_id=channel_id,
            message_ts=ref,
            query_id=request.query_id,
            thread_ts=request.where.thread_ts,
            asker_user_id=request.asked.user_id,
        ),
        ranking,
        request.offset,
        quoted=composed.quoted_ids,
    )


def tell_asker(client: WebClient, where: Where, user_id: str | None, notice: str) -> None:
    """A line only the asker sees where they asked, else in a DM; if Slack takes neither, the
    failure is logged (the answer's own failure already was)."""
    if not user_id:
        return
    try:
        client.chat_postEphemeral(
            channel=where.channel_id, user=user_id, text=notice, thread_ts=where.thread_ts
        )
        return
    except SlackApiError as error:
        log.info("no ephemeral notice in %s (%s)", where.channel_id, error.response.get("error"))
    except OSError as error:
        log.info("no ephemeral notice in %s (%s)", where.channel_id, error)
    try:
        client.chat_postMessage(channel=user_id, text=notice)
    except (SlackApiError, OSError):
        log.warning("could not tell %s that their question was not answered", user_id)


def open_dm(client: WebClient, user_id: str) -> Where:
    """The asker's DM; NotAnswered when Slack will not open it."""
    try:
        with slack_outcomes():
            response = client.conversations_open(users=user_id)
    except (GiveUp, RetryLater) as failure:
        raise not_answered(failure) from failure
    return Where(str(response["channel"]["id"]))


def not_answered(failure: GiveUp | RetryLater) -> NotAnswered:
    reason = failure.reason
    if reason in CANNOT_POST_HERE:
        return CannotPost(reason, replies.CANNOT_ANSWER_HERE)
    log.warning("an answer could not be posted: %s", reason)
    if isinstance(failure, RetryLater) and (failure.outage or failure.after):
        return NotAnswered(reason, replies.SLACK_AWAY)
    return NotAnswered(reason, replies.answer_refused(reason))
