"""New knowledge from Slack: the "Save to Lepton" message shortcut and `/lepton add`, both
through a modal, both ingested exactly like any other source."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.knowledge import replies
from handlers.knowledge.modals import (
    ADD_CALLBACK,
    SAVE_CALLBACK,
    SnippetForm,
    metadata_of,
    read_form,
    save_modal,
)
from handlers.plumbing import payload_checks, pressed
from handlers.plumbing.services import Services
from indexer.ingest.documents import LoadResult, SourceDocument
from indexer.ingest.saved_messages import Note, SavedMessage, note_document, saved_message_document

log = logging.getLogger(__name__)
SAVE_SHORTCUT = "save_to_lepton"
NO_FORM = "Slack would not open the form (`{error}`); please use the shortcut again."
GARBLED_FORM = "This form arrived garbled, so nothing was saved; close it and start again."
VIEW_ID_CHARS = 64


def register(app: App, services: Services) -> None:
    @app.shortcut(SAVE_SHORTCUT)
    def save_shortcut(
        ack: Ack, shortcut: dict[str, Any], client: WebClient, respond: Respond
    ) -> None:
        ack()
        if pressed.presser(shortcut) is None:
            return
        message = shortcut.get("message") or {}
        channel = payload_checks.channel_id(payload_checks.part(shortcut, "channel", "id"))
        ts = payload_checks.message_ts(message.get("ts"))
        if not (channel and ts):
            pressed.answer(client, shortcut, respond, payload_checks.incomplete("message"))
            return
        metadata = {
            "team": payload_checks.text(payload_checks.part(shortcut, "team", "id")),
            "channel": channel,
            "ts": ts,
            "author": payload_checks.user_id(message.get("user")) or "",
        }
        try:
            client.views_open(
                trigger_id=payload_checks.text(shortcut.get("trigger_id")),
                view=save_modal(payload_checks.text(message.get("text")), metadata),
            )
        except SlackApiError as refused:
            refusal = NO_FORM.format(error=refused.response["error"])
            pressed.answer(client, shortcut, respond, refusal)

    @app.view(SAVE_CALLBACK)
    def save_submitted(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        saver, meta = pressed.presser(body), metadata_of(view)
        if saver is None or not (meta.get("channel") and meta.get("ts")):
            ack(response_action="errors", errors={"title": GARBLED_FORM})
            return
        form = _accepted(ack, view)
        if form is None:
            return
        document = saved_message_document(_saved_message(client, form, meta, saver))
        _ingest(services, client, saver, document)

    @app.view(ADD_CALLBACK)
    def add_submitted(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient
    ) -> None:
        author, key = pressed.presser(body), payload_checks.text(view.get("id"))
        if author is None or not 0 < len(key) <= VIEW_ID_CHARS:
            ack(response_action="errors", errors={"title": GARBLED_FORM})
            return
        form = _accepted(ack, view)
        if form is None:
            return
        note = Note(
            team_id=payload_checks.text(payload_checks.part(body, "team", "id")),
            key=key,
            title=form.title,
            text=form.text,
            tags=form.tags,
            link=form.link,
            author_user_id=author,
            author_name=_display_name(client, author),
        )
        _ingest(services, client, author, note_document(note))


def _accepted(ack: Ack, view: dict[str, Any]) -> SnippetForm | None:
    """The submitted form, acked; or None after showing Slack the per-field errors."""
    form = read_form(view)
    if errors := form.errors():
        ack(response_action="errors", errors=errors)
        return None
    ack()
    return form


def _saved_message(
    client: WebClient, form: SnippetForm, meta: dict[str, str], saver: str
) -> SavedMessage:
    channel, ts = meta.get("channel", ""), meta.get("ts", "")
    permalink = None
    try:
        permalink = client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
    except SlackApiError as exc:
        log.info("no permalink for a saved message (%s)", exc.response.get("error"))
    author = meta.get("author") or None
    return SavedMessage(
        team_id=meta.get("team", ""),
        channel_id=channel,
        ts=ts,
        text=form.text,
        permalink=permalink,
        author_user_id=author,
        author_name=_display_name(client, author) if author else None,
        saved_by=saver,
        title=form.title,
        tags=form.tags,
        private_channel=_is_private(client, channel),
    )


def _is_private(client: WebClient, channel: str) -> bool:
    """Anything Lepton cannot confirm to be public is treated as private to its channel."""
    try:
        info = client.conversations_info(channel=channel).get("channel") or {}
    except SlackApiError:
        return True
    return bool(info.get("is_private") or info.get("is_im") or info.get("is_mpim"))


def _display_name(client: WebClient, user_id: str) -> str | None:
    try:
        user = client.users_info(user=user_id).get("user") or {}
    except SlackApiError:
        return None
    profile = user.get("profile") or {}
    return profile.get("real_name") or profile.get("display_name") or user.get("name")


def _ingest(services: Services, client: WebClient, user: str, document: SourceDocument) -> None:
    summary = services.ingestor.ingest(LoadResult([document]))
    changed = summary.documents_added or summary.documents_updated
    text = replies.saved(document.title, document.url) if changed else replies.ALREADY_SAVED
    client.chat_postMessage(channel=user, text=text)
