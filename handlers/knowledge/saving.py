"""New knowledge from Slack: the "Save to Lepton" message shortcut and `/lepton add`, both
through a modal, both ingested exactly like any other source."""

from __future__ import annotations

import hashlib
import logging

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from handlers.knowledge import replies
from handlers.knowledge.modals import (
    ADD_CALLBACK,
    SAVE_CALLBACK,
    SnippetForm,
    metadata_of,
    read_form,
    save_modal,
)
from handlers.plumbing import payload_checks
from handlers.plumbing.listeners import Press, Submission, on_press, on_submit
from handlers.plumbing.membership import is_public
from handlers.plumbing.services import Services, Wiring
from indexer.ingest.documents import LoadResult, SourceDocument
from indexer.ingest.saved_messages import Note, SavedMessage, note_document, saved_message_document
from models import Document

log = logging.getLogger(__name__)
SAVE_SHORTCUT = "save_to_lepton"
NO_FORM = "Slack would not open the form (`{error}`); please use the shortcut again."
GARBLED_FORM = "This form arrived garbled, so nothing was saved; close it and start again."
VIEW_ID_CHARS = 64


def register(app: App, services: Wiring) -> None:
    app.shortcut(SAVE_SHORTCUT)(on_press(services, _save_shortcut))
    garbled = {"title": GARBLED_FORM}
    app.view(SAVE_CALLBACK)(on_submit(services, _save_submitted, garbled))
    app.view(ADD_CALLBACK)(on_submit(services, _add_submitted, garbled))


def _save_shortcut(services: Services, press: Press) -> None:
    """Open the save modal, pre-filled from the message; its metadata says which message."""
    shortcut = press.body
    message = shortcut.get("message") or {}
    channel = payload_checks.channel_id(payload_checks.part(shortcut, "channel", "id"))
    ts = payload_checks.message_ts(message.get("ts"))
    if not (channel and ts):
        press.answer(payload_checks.incomplete("message"))
        return
    original = payload_checks.text(message.get("text"))
    metadata = {
        "team": press.team or "",
        "channel": channel,
        "ts": ts,
        "author": payload_checks.user_id(message.get("user")) or "",
        "as_written": _fingerprint(original),
    }
    try:
        press.client.views_open(
            trigger_id=payload_checks.text(shortcut.get("trigger_id")),
            view=save_modal(original, metadata),
        )
    except SlackApiError as refused:
        press.answer(NO_FORM.format(error=refused.response["error"]))


def _save_submitted(services: Services, form: Submission) -> None:
    meta = metadata_of(form.view)
    if not (meta.get("channel") and meta.get("ts")):
        form.refuse({"title": GARBLED_FORM})
        return
    if (entered := _accepted(form)) is None:
        return
    saved = _saved_message(form.client, entered, meta, form.user)
    document = saved_message_document(saved)
    if (keeper := _saved_by(services, document.source)) not in (None, form.user):
        form.client.chat_postMessage(channel=form.user, text=replies.saved_by_someone(keeper))
        return
    _ingest(services, form.client, form.user, document)


def _fingerprint(text: str) -> str:
    """What the message said, to tell later whether the saver changed it."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()


def _saved_by(services: Services, source: str) -> str | None:
    """Who saved this message already, if anyone: their snippet is theirs to change."""
    with services.sessions() as session:
        return session.scalar(select(Document.saved_by_user_id).where(Document.source == source))


def _add_submitted(services: Services, form: Submission) -> None:
    key = payload_checks.text(form.view.get("id"))
    if not 0 < len(key) <= VIEW_ID_CHARS:
        form.refuse({"title": GARBLED_FORM})
        return
    if (entered := _accepted(form)) is None:
        return
    note = Note(
        team_id=payload_checks.text(payload_checks.part(form.body, "team", "id")),
        key=key,
        title=entered.title,
        text=entered.text,
        tags=entered.tags,
        link=entered.link,
        author_user_id=form.user,
        author_name=_display_name(form.client, form.user),
    )
    _ingest(services, form.client, form.user, note_document(note))


def _accepted(form: Submission) -> SnippetForm | None:
    """The submitted form, acked; or None after showing Slack the per-field errors."""
    entered = read_form(form.view)
    if errors := entered.errors():
        form.refuse(errors)
        return None
    form.accept()
    return entered


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
    if _fingerprint(form.text) != meta.get("as_written"):
        author = saver  # their words now: never credited to the person who wrote the message
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
        private_channel=not is_public(client, channel),
    )


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
