"""Buttons on answers (Helpful / Not helpful, More results, Why these?) and the forget-me
confirmation."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from handlers import replies
from handlers.answering import Where, post_answer, visible_channels
from handlers.blocks import MORE_RESULTS, RATE_DOWN, RATE_UP, WHY_THESE, why_text
from indexer.answer_log import ShownAnswer, find_answer
from indexer.questions import Asked
from people.audit import record_audit
from people.privacy import forget_user

if TYPE_CHECKING:
    from bot.services import Services

FORGET_CONFIRM = "forget_me_confirm"
FORGET_CANCEL = "forget_me_cancel"


def register(app: App, services: Services) -> None:
    @app.action(RATE_UP)
    @app.action(RATE_DOWN)
    def rate(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        shown = _shown(services, body)
        snippet_id = int(action.get("value") or 0)
        if shown is None or snippet_id not in shown.snippet_ids:
            _whisper(respond, replies.GONE)
            return
        value = 1 if action["action_id"] == RATE_UP else -1
        user = str(body["user"]["id"])
        services.feedback.rate(
            user, snippet_id, value, f"button:{shown.answer_id}", shown.answer_id
        )
        _whisper(respond, replies.rated(value))

    @app.action(MORE_RESULTS)
    def more(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        shown = _shown(services, body)
        if shown is None or not shown.query:
            _whisper(respond, replies.GONE)
            return
        channel, message_ts = _message_of(body)
        asked = Asked(
            surface="more", user_id=str(body["user"]["id"]), team_id=_team(body), channel_id=channel
        )
        where = Where(channel, None if channel.startswith("D") else shown.thread_ts or message_ts)
        offset = max(int(action.get("value") or 0), 0)
        post_answer(
            services, client, asked, shown.query, where, offset=offset, query_id=shown.query_id
        )

    @app.action(WHY_THESE)
    def why(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        ack()
        shown = _shown(services, body)
        if shown is None or not shown.query:
            _whisper(respond, replies.GONE)
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
        _whisper(respond, why_text(replace(ranking, results=kept)))

    @app.action(FORGET_CONFIRM)
    def forget(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        user = str(body["user"]["id"])
        if action.get("value") != user:
            _whisper(respond, replies.NOT_YOURS)
            return
        summary = forget_user(services.sessions, user)
        services.feedback.refresh(force=True)
        record_audit(services.sessions, "self-service", "forget_me", details=summary.counts)
        respond(replies.forgotten(summary.lines()), replace_original=True)

    @app.action(FORGET_CANCEL)
    def cancel(ack: Ack, respond: Respond) -> None:
        ack()
        respond(replies.KEPT, replace_original=True)


def _whisper(respond: Respond, text: str) -> None:
    """A reply only the presser sees, leaving the answer itself as it was."""
    respond(text, response_type="ephemeral", replace_original=False)


def _message_of(body: dict[str, Any]) -> tuple[str, str]:
    container = body.get("container") or {}
    channel = container.get("channel_id") or (body.get("channel") or {}).get("id") or ""
    return str(channel), str(
        container.get("message_ts") or (body.get("message") or {}).get("ts") or ""
    )


def _team(body: dict[str, Any]) -> str | None:
    return (body.get("team") or {}).get("id")


def _shown(services: Services, body: dict[str, Any]) -> ShownAnswer | None:
    channel, message_ts = _message_of(body)
    return find_answer(services.sessions, channel, message_ts) if channel and message_ts else None
