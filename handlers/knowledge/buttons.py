"""Buttons on answers (Helpful / Not helpful, More results, Why these?) and the forget-me
confirmation."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from handlers.knowledge import replies
from handlers.knowledge.answering import NotAnswered, Where, post_answer, visible_channels
from handlers.knowledge.blocks import MORE_RESULTS, RATE_DOWN, RATE_UP, WHY_THESE, why_text
from handlers.plumbing import payload_checks
from handlers.plumbing.pressed import answer, presser
from handlers.plumbing.services import Services
from indexer.insights.questions import Asked
from indexer.learning.answer_log import ShownAnswer, find_answer
from people.audit import record_audit
from people.privacy import forget_user

FORGET_CONFIRM = "forget_me_confirm"
FORGET_CANCEL = "forget_me_cancel"
MAX_OFFSET = 1000
"""More results than anyone pages through; a larger offset is a garbled button."""
NUMBER = re.compile(r"^\d{1,9}$")


def register(app: App, services: Services) -> None:
    @app.action(RATE_UP)
    @app.action(RATE_DOWN)
    def rate(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        if (user := presser(body)) is None:
            return
        shown = _shown(services, body)
        snippet_id = _number(action.get("value"))
        if shown is None or snippet_id not in shown.snippet_ids:
            answer(client, body, respond, replies.GONE)
            return
        value = 1 if action["action_id"] == RATE_UP else -1
        services.feedback.rate(
            user, snippet_id, value, f"button:{shown.answer_id}", shown.answer_id
        )
        answer(client, body, respond, replies.rated(value))

    @app.action(MORE_RESULTS)
    def more(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        if (user := presser(body)) is None:
            return
        shown = _shown(services, body)
        offset = _number(action.get("value"))
        if shown is None or not shown.query or offset is None or offset > MAX_OFFSET:
            answer(client, body, respond, replies.GONE)
            return
        channel, message_ts = _message_of(body)
        asked = Asked(surface="more", user_id=user, team_id=_team(body), channel_id=channel)
        where = Where(channel, None if channel.startswith("D") else shown.thread_ts or message_ts)
        # One page per answer: a double click, or one click delivered to two web processes,
        # would otherwise post the same page twice. A failed post gives the page back.
        try:
            with services.once.run(f"more:{channel}:{message_ts}:{offset}") as first:
                if first:
                    post_answer(
                        services,
                        client,
                        asked,
                        shown.query,
                        where,
                        offset=offset,
                        query_id=shown.query_id,
                    )
        except NotAnswered as failed:
            answer(client, body, respond, failed.notice)

    @app.action(WHY_THESE)
    def why(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        if presser(body) is None:
            return
        shown = _shown(services, body)
        if shown is None or not shown.query:
            answer(client, body, respond, replies.GONE)
            return
        channel, _ = _message_of(body)
        asked = Asked(
            surface="why", user_id=shown.asker_user_id, team_id=_team(body), channel_id=channel
        )
        channels = visible_channels(services, client, asked, Where(channel))
        ranking = services.ranker.rank(
            shown.query, shown.asker_user_id, channels, limit=shown.offset + len(shown.snippet_ids)
        )
        kept = [r for r in ranking.results if r.snippet_id in set(shown.snippet_ids)]
        answer(client, body, respond, why_text(replace(ranking, results=kept)))

    @app.action(FORGET_CONFIRM)
    def forget(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        if (user := presser(body)) is None:
            return
        if action.get("value") != user:
            answer(client, body, respond, replies.NOT_YOURS)
            return
        summary = forget_user(services.sessions, user)
        services.feedback.refresh(force=True)
        record_audit(services.sessions, "self-service", "forget_me", details=summary.counts)
        answer(client, body, respond, replies.forgotten(summary.lines()), replace=True)

    @app.action(FORGET_CANCEL)
    def cancel(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        if presser(body) is not None:
            answer(client, body, respond, replies.KEPT, replace=True)


def _number(value: Any) -> int | None:
    """A button's small non-negative integer value (a snippet id, an offset), else None."""
    return int(value) if isinstance(value, str) and NUMBER.match(value) else None


def _message_of(body: dict[str, Any]) -> tuple[str, str]:
    """The pressed message's channel and ts; "" for either when the payload has no valid one."""
    channel = payload_checks.channel_id(
        payload_checks.part(body, "container", "channel_id")
    ) or payload_checks.channel_id(payload_checks.part(body, "channel", "id"))
    message_ts = payload_checks.message_ts(
        payload_checks.part(body, "container", "message_ts")
    ) or payload_checks.message_ts(payload_checks.part(body, "message", "ts"))
    return channel or "", message_ts or ""


def _team(body: dict[str, Any]) -> str | None:
    return payload_checks.text(payload_checks.part(body, "team", "id")) or None


def _shown(services: Services, body: dict[str, Any]) -> ShownAnswer | None:
    channel, message_ts = _message_of(body)
    return find_answer(services.sessions, channel, message_ts) if channel and message_ts else None
