"""Buttons on answers (Helpful / Not helpful, More results, Why these?) and the forget-me
confirmation. They work the same on a private answer, found by the key its buttons carry
(`answer_refs`); *Share to channel* is in `sharing`."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from slack_bolt import App

from handlers.knowledge import replies
from handlers.knowledge.answer_refs import answer_ref, is_private_key
from handlers.knowledge.answering import (
    AnswerRequest,
    NotAnswered,
    Where,
    post_answer,
    visible_channels,
)
from handlers.knowledge.blocks import MORE_RESULTS, RATE_DOWN, RATE_UP, WHY_THESE, why_text
from handlers.knowledge.sharing import post_private
from handlers.plumbing.listeners import Press, on_actions
from handlers.plumbing.services import Services, Wiring
from indexer.insights.questions import Asked
from indexer.learning.answer_log import ShownAnswer, find_answer
from people.audit import record_audit
from people.privacy import forget_user

FORGET_CONFIRM = "forget_me_confirm"
FORGET_CANCEL = "forget_me_cancel"
MAX_OFFSET = 1000
"""More results than anyone pages through; a larger offset is a garbled button."""
NUMBER = re.compile(r"^\d{1,9}$")


def register(app: App, services: Wiring) -> None:
    on_actions(
        app,
        services,
        {
            RATE_UP: _rate,
            RATE_DOWN: _rate,
            MORE_RESULTS: _more,
            WHY_THESE: _why,
            FORGET_CONFIRM: _forget,
            FORGET_CANCEL: _cancel,
        },
    )


def _rate(services: Services, press: Press) -> None:
    shown = _shown(services, press.body)
    snippet_id = _number(press.value)
    if shown is None or snippet_id not in shown.snippet_ids:
        press.answer(replies.GONE)
        return
    value = 1 if press.action_id == RATE_UP else -1
    services.feedback.rate(
        press.user, snippet_id, value, f"button:{shown.answer_id}", shown.answer_id
    )
    press.answer(replies.rated(value))


def _more(services: Services, press: Press) -> None:
    shown = _shown(services, press.body)
    offset = _number(press.value)
    if shown is None or not shown.query or offset is None or offset > MAX_OFFSET:
        press.answer(replies.GONE)
        return
    channel, ref = answer_ref(press.body)
    asked = Asked(surface="more", user_id=press.user, team_id=press.team, channel_id=channel)
    private = is_private_key(ref)
    thread = None if channel.startswith("D") else shown.thread_ts or (None if private else ref)
    where = Where(channel, thread)
    request = AnswerRequest(asked, shown.query, where, offset=offset, query_id=shown.query_id)
    # One page per answer: a double click, or one click delivered to two web processes,
    # would otherwise post the same page twice. A failed post gives the page back. The next
    # page of a private answer is private too.
    try:
        with services.once.run(f"more:{channel}:{ref}:{offset}") as first:
            if first and private:
                post_private(services, press.client, request, press.respond)
            elif first:
                post_answer(services, press.client, request)
    except NotAnswered as failed:
        press.answer(failed.notice)


def _why(services: Services, press: Press) -> None:
    shown = _shown(services, press.body)
    if shown is None or not shown.query:
        press.answer(replies.GONE)
        return
    channel, _ = answer_ref(press.body)
    asked = Asked(
        surface="why", user_id=shown.asker_user_id, team_id=press.team, channel_id=channel
    )
    channels = visible_channels(services, press.client, asked, Where(channel))
    ranking = services.ranker.rank(
        shown.query, shown.asker_user_id, channels, limit=shown.offset + len(shown.snippet_ids)
    )
    kept = [r for r in ranking.results if r.snippet_id in set(shown.snippet_ids)]
    press.answer(why_text(replace(ranking, results=kept)))


def _forget(services: Services, press: Press) -> None:
    if press.value != press.user:
        press.answer(replies.NOT_YOURS)
        return
    summary = forget_user(services.sessions, press.user)
    services.feedback.refresh(force=True)
    record_audit(services.sessions, "self-service", "forget_me", details=summary.counts)
    press.answer(replies.forgotten(summary.lines()), replace=True)


def _cancel(services: Services, press: Press) -> None:
    press.answer(replies.KEPT, replace=True)


def _number(value: Any) -> int | None:
    """A button's small non-negative integer value (a snippet id, an offset), else None."""
    return int(value) if isinstance(value, str) and NUMBER.match(value) else None


def _shown(services: Services, body: dict[str, Any]) -> ShownAnswer | None:
    channel, ref = answer_ref(body)
    return find_answer(services.sessions, channel, ref) if channel and ref else None
