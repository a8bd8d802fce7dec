"""Events: @-mentions and DMs become answers; reactions on Lepton's answers become ratings.

Each event runs at most once (Slack retries carry the same `event_id`)."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers import replies
from handlers.answering import Where, post_answer
from handlers.command_parser import HELP_WORDS, parse_command
from handlers.home import publish_home
from indexer.answer_log import find_answer
from indexer.questions import Asked

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)
USER_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")
LABELLED = re.compile(r"<(?:#[A-Z0-9]+|[^|>]+)\|([^>]*)>")
BARE = re.compile(r"<(?:[#!@][^>]*|https?://[^>]*)>")


def question_text(text: str) -> str:
    """The question in a message: mentions dropped, links and channels shown by their label."""
    text = USER_MENTION.sub(" ", text)
    text = LABELLED.sub(lambda m: m.group(1), text)
    text = BARE.sub(lambda m: m.group(0)[1:-1] if m.group(0).startswith("<http") else " ", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


def register(app: App, services: Services) -> None:
    def once(body: dict[str, Any]) -> Any:
        return services.once.run(
            f"event:{body.get('event_id') or body.get('event', {}).get('event_ts')}"
        )

    @app.event("app_mention")
    def mention(body: dict[str, Any], event: dict[str, Any], client: WebClient) -> None:
        if str(event.get("channel", "")).startswith("D"):
            return
        with once(body) as first:
            if first:
                thread = Where(str(event["channel"]), str(event.get("thread_ts") or event["ts"]))
                _answer(services, client, body, event, thread, "mention")

    @app.event("message")
    def direct_message(body: dict[str, Any], event: dict[str, Any], client: WebClient) -> None:
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        with once(body) as first:
            if first:
                _answer(services, client, body, event, Where(str(event["channel"])), "dm")

    @app.event("reaction_added")
    def reaction_added(
        body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]
    ) -> None:
        with once(body) as first:
            if first:
                _reaction(services, event, context, added=True)

    @app.event("reaction_removed")
    def reaction_removed(
        body: dict[str, Any], event: dict[str, Any], context: dict[str, Any], client: WebClient
    ) -> None:
        with once(body) as first:
            if first:
                _reaction(services, event, context, added=False, client=client)

    @app.event("app_home_opened")
    def home_opened(event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") == "home":
            publish_home(services, client, str(event["user"]), body.get("team_id"))


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
        client.chat_postMessage(
            channel=where.channel_id, thread_ts=where.thread_ts, text=replies.MENTION_HELP
        )
        return
    parsed = parse_command(f"find {query}")
    asked = Asked(
        surface=surface,
        user_id=event.get("user"),
        team_id=body.get("team_id"),
        channel_id=where.channel_id,
    )
    if parsed.notice:
        client.chat_postMessage(
            channel=where.channel_id, thread_ts=where.thread_ts, text=parsed.notice
        )
    post_answer(services, client, asked, parsed.argument, where)


def _reaction(
    services: Services,
    event: dict[str, Any],
    context: dict[str, Any],
    *,
    added: bool,
    client: WebClient | None = None,
) -> None:
    """A mapped reaction rates every snippet the answer showed; removing it undoes that,
    unless the person still has another mapped reaction on the same answer."""
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
        services.feedback.rate(str(user), shown.snippet_ids, value, origin, shown.answer_id)
    else:
        services.feedback.unrate(str(user), shown.snippet_ids, origin)


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
