"""Private answers, and sharing an answer with a channel.

`/lepton find --private` (or `@lepton -p ...`) answers with an ephemeral only the asker sees,
recorded under a key its buttons carry (`answer_refs`), so Helpful, More results and Why these?
work on it as on any answer. Its *Share to channel* posts the same answer in the channel as a
real message (people can react to it, and their reactions rate it like any answer's), saying who
shared it, and removes the ephemeral. A DM answer's *Share to channel* opens a modal to pick the
channel; a channel Lepton cannot post in is refused on the field, and nothing is posted.

What a channel may be shown is decided again for that channel: the question is ranked with the
channel's own visibility (`visible_channels`) and only the results the original answer showed
are kept, so a snippet from a private channel never reaches a channel whose members are not all
in it. A share is keyed by the original answer and the channel, once (`services.once`) and in
the message's metadata (`post_now`), so a double click, Slack's retry or a second submission
finds the first copy instead of posting another.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from slack_bolt import App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.knowledge import replies
from handlers.knowledge.answer_refs import (
    SHARE,
    answer_ref,
    is_private_key,
    new_private_key,
    share_button,
    tag_private,
)
from handlers.knowledge.answering import (
    CANNOT_POST_HERE,
    SOURCES,
    AnswerRequest,
    CannotPost,
    NotAnswered,
    Where,
    answer_message,
    compose,
    not_answered,
    open_dm,
    record_posted,
    visible_channels,
)
from handlers.knowledge.blocks import MORE_RESULTS, fallback_text
from handlers.knowledge.modals import metadata_of
from handlers.plumbing import payload_checks
from handlers.plumbing.blocks import Block, section
from handlers.plumbing.listeners import Press, Submission, on_actions, on_submit
from handlers.plumbing.sending import post_now, slack_outcomes
from handlers.plumbing.services import Services, Wiring
from indexer.answers.compose import Composed
from indexer.insights.questions import Asked
from indexer.learning.answer_log import ShownAnswer, find_answer
from indexer.search.ranker import Ranking
from people.outbox import GiveUp, RetryLater

log = logging.getLogger(__name__)
SHARE_CALLBACK = "lepton_share"
CHANNEL_FIELD = "channel"
RANK_MARGIN = 10
"""Ranking again for the channel, this many results past the original page, so a result it
showed is still found after ratings reordered the list a little."""


def register(app: App, services: Wiring) -> None:
    on_actions(app, services, {SHARE: _share_pressed})
    garbled = {CHANNEL_FIELD: replies.SHARE_FORM_GARBLED}
    app.view(SHARE_CALLBACK)(on_submit(services, _share_submitted, garbled))


# Private answers


def answer_privately(
    services: Services,
    client: WebClient,
    request: AnswerRequest,
    tell: Callable[[str], None],
    respond: Respond | None = None,
) -> None:
    """`answering.answer`, for the asker's eyes only (`/lepton find --private`, `@lepton -p`)."""
    try:
        post_private(services, client, request, respond)
    except NotAnswered as failed:
        tell(failed.notice)


def post_private(
    services: Services, client: WebClient, request: AnswerRequest, respond: Respond | None = None
) -> None:
    """Rank once, show the answer to the asker alone (an ephemeral; through `respond` where
    Lepton may not post), and record what it showed under the key its buttons carry. Raises
    NotAnswered; the question is logged once anyway, never where `/lepton gaps` quotes it."""
    channels = visible_channels(services, client, request.asked, request.where)
    logged_as = request.asked
    if not request.offset:
        logged_as = replace(logged_as, channel_id=_unquoted(client, request.asked))
    ranking, logged_id = services.questions.ask(
        request.query, logged_as, channels, limit=SOURCES, offset=request.offset
    )
    request = replace(request, header=request.header or replies.PRIVATE_HINT)
    if logged_id is not None:
        request = replace(request, query_id=logged_id)
    key = new_private_key()
    extra = [share_button(key)] if ranking.results else []
    composed = compose(services, request, ranking)
    blocks = tag_private(answer_message(request, ranking, composed, extra), key)
    _show_asker(client, request, fallback_text(ranking, request.query), blocks, respond)
    record_posted(services, request.where.channel_id, key, request, ranking, composed)


def _unquoted(client: WebClient, asked: Asked) -> str | None:
    """Where a private question is logged: the asker's DM, as if asked there, so admins'
    `/lepton gaps` counts it but never quotes it (nor does it quote a user id, should Slack not
    open the DM)."""
    if not asked.user_id:
        return None
    try:
        return open_dm(client, asked.user_id).channel_id
    except NotAnswered:
        return asked.user_id


def _show_asker(
    client: WebClient,
    request: AnswerRequest,
    text: str,
    blocks: list[Block],
    respond: Respond | None,
) -> None:
    where = request.where
    try:
        with slack_outcomes():
            client.chat_postEphemeral(
                channel=where.channel_id,
                user=str(request.asked.user_id),
                text=text,
                blocks=blocks,
                thread_ts=where.thread_ts,
            )
        return
    except (GiveUp, RetryLater) as failure:
        if respond is None or failure.reason not in CANNOT_POST_HERE:
            raise not_answered(failure) from failure
    sent = respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=False)
    if sent.status_code != 200:
        raise NotAnswered(f"response_url {sent.status_code}", replies.SLACK_AWAY)


# Sharing


class NothingVisible(Exception):
    """Everything the answer showed may be shown only in other channels."""


@dataclass(frozen=True)
class Share:
    """An answer ready to post in a channel: what it shows there, and what it left out."""

    key: str
    request: AnswerRequest
    ranking: Ranking
    composed: Composed
    """Quoted from what this channel may see: a left-out result is never quoted."""
    blocks: list[Block]
    left_out: int


@dataclass(frozen=True)
class Shared:
    channel_id: str
    ts: str


def prepare_share(
    services: Services, client: WebClient, shown: ShownAnswer, where: Where, sharer: str
) -> Share:
    """The answer `shown` as `where` may see it: ranked again with that channel's visibility,
    keeping only the results `shown` showed, in its order. Raises NothingVisible."""
    asker = shown.asker_user_id or sharer
    asked = Asked("share", asker, services.team.team_id, where.channel_id)
    channels = visible_channels(services, client, asked, where)
    limit = shown.offset + len(shown.snippet_ids) + RANK_MARGIN
    ranking = services.ranker.rank(str(shown.query), asker, channels, limit=limit)
    place = {r.snippet_id: n for n, r in enumerate(ranking.results)}
    kept = [ranking.results[place[i]] for i in shown.snippet_ids if i in place]
    if not kept:
        raise NothingVisible
    after = max(place[r.snippet_id] for r in kept) + 1
    more = ranking.has_more or len(ranking.results) > after
    ranking = replace(ranking, results=kept, has_more=more)
    request = AnswerRequest(
        asked,
        str(shown.query),
        where,
        offset=shown.offset,
        query_id=shown.query_id,
        header=replies.shared_by(sharer),
    )
    composed = compose(services, request, ranking)
    blocks = _more_from(answer_message(request, ranking, composed), after)
    key = f"share:{shown.answer_id}:{where.channel_id}"
    left_out = len(shown.snippet_ids) - len(kept)
    return Share(key, request, ranking, composed, blocks, left_out)


def _more_from(blocks: list[Block], offset: int) -> list[Block]:
    """*More results* continues after the last result shown in this channel's own ranking
    (which has fewer results when some were left out)."""
    for block in blocks:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == MORE_RESULTS:
                element["value"] = str(offset)
    return blocks


def post_share(services: Services, client: WebClient, share: Share) -> Shared | None:
    """Post the shared answer once and record it, so reactions on it rate what it shows;
    None when this share was already done (or is being done by another press)."""
    where = share.request.where
    try:
        with services.once.run(share.key) as first:
            if not first:
                return None
            posted = post_now(
                client,
                where.channel_id,
                share.key,
                text=fallback_text(share.ranking, share.request.query),
                blocks=share.blocks,
                thread_ts=where.thread_ts,
                unfurl=False,
                look_first=True,
            )
            record_posted(
                services, posted.channel_id, posted.ts, share.request, share.ranking, share.composed
            )
    except (GiveUp, RetryLater) as failure:
        raise not_answered(failure) from failure
    return Shared(posted.channel_id, posted.ts)


def _shareable(services: Services, channel: str, ref: str, user: str) -> ShownAnswer | str:
    """The recorded answer `user` may share (a private one, or one in a DM), else why not."""
    private_or_dm = is_private_key(ref) or channel.startswith("D")
    shown = find_answer(services.sessions, channel, ref) if channel and ref else None
    if shown is None or not private_or_dm or not shown.query or not shown.snippet_ids:
        return replies.SHARE_GONE
    if shown.asker_user_id not in (None, user):
        return replies.NOT_YOURS_TO_SHARE
    return shown


def _share_pressed(services: Services, press: Press) -> None:
    channel, ref = answer_ref(press.body)
    shown = _shareable(services, channel, ref, press.user)
    if isinstance(shown, str):
        press.answer(shown)
        return
    if not is_private_key(ref):
        _pick_channel(press, {"c": channel, "ts": ref})
        return
    try:
        share = prepare_share(
            services, press.client, shown, Where(channel, shown.thread_ts), press.user
        )
        shared = post_share(services, press.client, share)
    except NothingVisible:
        press.answer(replies.nothing_visible("this channel"))
        return
    except CannotPost:
        press.answer(replies.CANNOT_SHARE_HERE)
        return
    except NotAnswered as failed:
        press.answer(failed.notice)
        return
    if shared is None or not payload_checks.url(press.body.get("response_url")):
        return
    # The shared message takes the private one's place; what was left out is said instead.
    if share.left_out:
        press.respond(text=replies.shared_in(channel, share.left_out), replace_original=True)
    else:
        press.respond(delete_original=True)


def _pick_channel(press: Press, metadata: dict[str, str]) -> None:
    try:
        press.client.views_open(
            trigger_id=payload_checks.text(press.body.get("trigger_id")),
            view=share_modal(metadata),
        )
    except SlackApiError as refused:
        press.answer(replies.NO_SHARE_FORM.format(error=refused.response.get("error")))


def share_modal(metadata: dict[str, str]) -> Block:
    """Which channel to share a DM answer in; `metadata` says which answer."""
    return {
        "type": "modal",
        "callback_id": SHARE_CALLBACK,
        "title": {"type": "plain_text", "text": "Share answer"},
        "submit": {"type": "plain_text", "text": "Share"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps(metadata),
        "blocks": [
            section(
                "I'll post the answer in the channel you pick, saying you shared it. Results "
                "from private channels that not everyone there is in are left out."
            ),
            {
                "type": "input",
                "block_id": CHANNEL_FIELD,
                "label": {"type": "plain_text", "text": "Channel"},
                "element": {
                    "type": "conversations_select",
                    "action_id": CHANNEL_FIELD,
                    "placeholder": {"type": "plain_text", "text": "Pick a channel"},
                    "filter": {"include": ["public", "private"], "exclude_bot_users": True},
                },
            },
        ],
    }


def _share_submitted(services: Services, form: Submission) -> None:
    """Refused on the field when the answer is gone, the channel is not one Lepton can post
    in, or nothing in the answer may be shown there; else the modal closes and the answer is
    posted, and the sharer is told where (or why not) in their DM."""
    picked = payload_checks.part(
        form.view, "state", "values", CHANNEL_FIELD, CHANNEL_FIELD, "selected_conversation"
    )
    target = payload_checks.channel_id(picked)
    if target is None or target.startswith("D"):
        form.refuse({CHANNEL_FIELD: replies.PICK_A_CHANNEL})
        return
    meta = metadata_of(form.view)
    dm = payload_checks.channel_id(meta.get("c")) or ""
    shown = _shareable(services, dm, payload_checks.message_ts(meta.get("ts")) or "", form.user)
    if isinstance(shown, str):
        form.refuse({CHANNEL_FIELD: shown})
        return
    name, problem = _where_to(form.client, target)
    if problem:
        form.refuse({CHANNEL_FIELD: problem})
        return
    try:
        share = prepare_share(services, form.client, shown, Where(target), form.user)
    except NothingVisible:
        form.refuse({CHANNEL_FIELD: replies.nothing_visible(name)})
        return
    form.accept()
    try:
        shared = post_share(services, form.client, share)
    except NotAnswered as failed:
        _tell(form.client, form.user, replies.not_shared(target, failed.notice))
        return
    told = replies.shared_in(target, share.left_out) if shared else replies.already_shared(target)
    _tell(form.client, form.user, told)


def _where_to(client: WebClient, channel: str) -> tuple[str, str | None]:
    """The channel's name as people know it, and why Lepton cannot post there (None if it can):
    asked of Slack before the modal closes, so the answer is never half-shared."""
    try:
        with slack_outcomes():
            info: dict[str, Any] = client.conversations_info(channel=channel).get("channel") or {}
    except GiveUp as refused:
        if refused.reason == "channel_not_found":  # private, without Lepton in it
            return "that channel", replies.NOT_IN_CHANNEL.format(channel="that channel")
        return "that channel", replies.cannot_check(refused.reason)
    except RetryLater as failed:
        away = failed.outage or failed.after
        return "that channel", replies.SLACK_AWAY_FORM if away else replies.cannot_check(
            failed.reason
        )
    name = f"#{info['name']}" if isinstance(info.get("name"), str) else "that channel"
    if info.get("is_im") or info.get("is_mpim"):
        return name, replies.PICK_A_CHANNEL
    if info.get("is_archived"):
        return name, replies.ARCHIVED.format(channel=name)
    if not info.get("is_member"):
        return name, replies.NOT_IN_CHANNEL.format(channel=name)
    return name, None


def _tell(client: WebClient, user: str, text: str) -> None:
    try:
        client.chat_postMessage(channel=user, text=text)
    except SlackApiError as refused:
        log.warning("could not tell %s about a share (%s)", user, refused.response.get("error"))
