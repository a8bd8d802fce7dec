"""Events: @-mentions and DMs become answers; reactions on Lepton's answers become ratings.

Each event runs at most once (Slack retries carry the same `event_id`)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.commands.parser import HELP_WORDS, parse_command
from handlers.home import publish_home
from handlers.knowledge import replies
from handlers.knowledge.answering import AnswerRequest, Where, answer, tell_asker
from handlers.knowledge.sharing import answer_privately
from handlers.plumbing import payload_checks
from handlers.plumbing.listeners import scoped
from handlers.plumbing.services import Services, Wiring
from indexer.insights.questions import Asked
from indexer.learning.answer_log import find_answer

log = logging.getLogger(__name__)
USER_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^<>]*)?>")
LABELLED = re.compile(r"<(?:#[A-Z0-9]+|[^|<>]+)\|([^<>]*)>")
EVENT_KEY = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
BARE = re.compile(r"<(?:[#!@][^<>]*|https?://[^<>]*)>")
"""Slack escapes `<` inside a message as `&lt;`, so no link or mention holds one: excluding it
keeps each pattern linear (with `[^>]*`, 40,000 `<` took seconds, every start rescanning the
rest of the message)."""


def question_text(text: str) -> str:
    """The question in a message: mentions dropped, links and channels shown by their label."""
    text = USER_MENTION.sub(" ", text)
    text = LABELLED.sub(lambda m: m.group(1), text)
    text = BARE.sub(lambda m: m.group(0)[1:-1] if m.group(0).startswith("<http") else " ", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


def register(app: App, services: Wiring) -> None:
    @contextmanager
    def first_time(context: BoltContext, body: dict[str, Any]) -> Iterator[Services | None]:
        """The services of the event's workspace when this delivery is new, else None."""
        workspace = scoped(services, context)
        if workspace is None:
            yield None
            return
        with workspace.once.run(f"event:{_delivery_key(body)}") as first:
            yield workspace if first else None

    @app.event("app_mention")
    def mention(
        body: dict[str, Any], event: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        if str(event.get("channel", "")).startswith("D"):
            return
        if _garbled(body, event, "channel", "user", "ts"):
            return
        with first_time(context, body) as workspace:
            if workspace:
                thread = payload_checks.message_ts(event.get("thread_ts")) or event["ts"]
                _answer(workspace, client, body, event, Where(event["channel"], thread), "mention")

    @app.event("message")
    def direct_message(
        body: dict[str, Any], event: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        if _garbled(body, event, "channel", "user"):
            return
        with first_time(context, body) as workspace:
            if workspace:
                _answer(workspace, client, body, event, Where(str(event["channel"])), "dm")

    @app.event("reaction_added")
    def reaction_added(body: dict[str, Any], event: dict[str, Any], context: BoltContext) -> None:
        if _garbled(body, event, "user"):
            return
        with first_time(context, body) as workspace:
            if workspace:
                _reaction(workspace, event, context, added=True)

    @app.event("reaction_removed")
    def reaction_removed(
        body: dict[str, Any], event: dict[str, Any], context: BoltContext, client: WebClient
    ) -> None:
        if _garbled(body, event, "user"):
            return
        with first_time(context, body) as workspace:
            if workspace:
                _reaction(workspace, event, context, added=False, client=client)

    @app.event("app_home_opened")
    def home_opened(
        event: dict[str, Any], body: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        if event.get("tab", "home") != "home" or _garbled(body, event, "user"):
            return
        if (workspace := scoped(services, context)) is None:
            return
        try:
            publish_home(
                workspace, client, event["user"], payload_checks.text(body.get("team_id")) or None
            )
        except SlackApiError as refused:
            log.warning("no App Home for %s (%s)", event["user"], refused.response.get("error"))


def _delivery_key(body: dict[str, Any]) -> str | None:
    """What makes a delivery unique: Slack's event id (a retry repeats it), else the event's ts."""
    event = body.get("event") or {}
    key = body.get("event_id") or event.get("event_ts")
    return key if isinstance(key, str) and EVENT_KEY.match(key) else None


def _garbled(body: dict[str, Any], event: dict[str, Any], *needs: str) -> bool:
    """True (and logged) when the event lacks a delivery key or a field the handler relies on:
    there is nobody to tell, so it is skipped rather than half-handled."""
    checks = {
        "channel": payload_checks.channel_id,
        "user": payload_checks.user_id,
        "ts": payload_checks.message_ts,
    }
    wrong = [] if _delivery_key(body) else ["event_id"]
    wrong += [need for need in needs if not checks[need](event.get(need))]
    if wrong:
        log.warning("skipped a %s event without a valid %s", event.get("type"), ", ".join(wrong))
    return bool(wrong)


def _answer(
    services: Services,
    client: WebClient,
    body: dict[str, Any],
    event: dict[str, Any],
    where: Where,
    surface: str,
) -> None:
    query = question_text(str(event.get("text") or ""))
    first_word = query.split(" ", 1)[0].lower() if query else ""
    if not query or first_word in HELP_WORDS:
        _say(client, where, replies.MENTION_HELP)
        return
    parsed = parse_command(f"find {query}")
    asked = Asked(
        surface=surface,
        user_id=event.get("user"),
        team_id=payload_checks.text(body.get("team_id")) or None,
        channel_id=where.channel_id,
    )
    if parsed.notice:
        _say(client, where, parsed.notice)
    request = AnswerRequest(asked, parsed.argument, where)
    tell = partial(tell_asker, client, where, asked.user_id)
    if parsed.private and not where.is_dm:  # `@lepton -p ...`: in the thread, for them alone
        answer_privately(services, client, request, tell)
        return
    answer(services, client, request, tell)


def _say(client: WebClient, where: Where, text: str) -> None:
    """A short reply where the person asked; if Slack refuses it, there is nobody else to tell."""
    try:
        client.chat_postMessage(channel=where.channel_id, thread_ts=where.thread_ts, text=text)
    except SlackApiError as refused:
        log.warning("could not reply in %s (%s)", where.channel_id, refused.response.get("error"))


def _reaction(
    services: Services,
    event: dict[str, Any],
    context: BoltContext,
    *,
    added: bool,
    client: WebClient | None = None,
) -> None:
    """A mapped reaction rates what the answer line quoted (else every snippet the answer
    showed); removing it undoes that, unless the person still has another mapped reaction on
    the same answer."""
    item = event.get("item") or {}
    user = event.get("user")
    value = services.settings.reaction_value(str(event.get("reaction") or ""))
    if item.get("type") != "message" or not user or value is None:
        return
    if user == context.get("bot_user_id"):
        return
    shown = find_answer(services.sessions, str(item.get("channel")), str(item.get("ts")))
    if shown is None:
        return
    origin = f"reaction:{shown.answer_id}"
    if not added and client is not None:
        remaining = _remaining_value(services, client, item, str(user))
        if remaining is not None:
            value, added = remaining, True
    if added:
        services.feedback.rate(str(user), shown.reaction_rates, value, origin, shown.answer_id)
    else:
        services.feedback.unrate(str(user), shown.reaction_rates, origin)


def _remaining_value(
    services: Services, client: WebClient, item: dict[str, Any], user: str
) -> int | None:
    """The rating the person's other reactions on the message still express, if any."""
    try:
        message = (
            client.reactions_get(channel=item["channel"], timestamp=item["ts"], full=True).get(
                "message"
            )
            or {}
        )
    except SlackApiError as exc:
        log.warning(
            "reactions.get failed (%s); treating the reaction as undone", exc.response.get("error")
        )
        return None
    values = [
        v
        for r in message.get("reactions") or []
        if user in (r.get("users") or [])
        and (v := services.settings.reaction_value(str(r.get("name") or ""))) is not None
    ]
    total = sum(values)
    return None if not values or total == 0 else (1 if total > 0 else -1)
