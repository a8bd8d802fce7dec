"""A single Slack message someone saved to Lepton ("Save to Lepton", `/lepton add`), as a
document. The Slack adapter supplies plain values; the ingest pipeline does the rest, exactly as
for any other source."""

from __future__ import annotations

from dataclasses import dataclass

from indexer.ingest.documents import CHANNEL, PUBLIC, Section, SourceDocument
from indexer.ingest.slack_threads import ts_to_datetime

SOURCE_TYPE = "saved_message"


@dataclass(frozen=True)
class SavedMessage:
    team_id: str
    channel_id: str
    ts: str
    text: str
    permalink: str | None
    author_user_id: str | None
    author_name: str | None
    saved_by: str
    title: str
    tags: list[str]
    private_channel: bool


def saved_message_document(message: SavedMessage) -> SourceDocument:
    """Keyed by the message, so saving it again (or editing title and tags) updates in place."""
    title = " ".join(message.title.split()) or "Saved message"
    return SourceDocument(
        source=f"slack:{message.team_id}/{message.channel_id}/{message.ts}",
        source_type=SOURCE_TYPE,
        title=title,
        sections=[Section(heading_path=(), text=message.text.strip(), atomic=True)],
        url=message.permalink,
        tags=[t.strip().lower() for t in message.tags if t.strip()] or None,
        owner=message.author_name,
        author_user_id=message.author_user_id,
        channel_id=message.channel_id,
        visibility=CHANNEL if message.private_channel else PUBLIC,
        created_at=ts_to_datetime(message.ts),
        saved_by_user_id=message.saved_by,
    )


NOTE_SOURCE_TYPE = "note"


@dataclass(frozen=True)
class Note:
    """A snippet someone wrote directly (`/lepton add`)."""

    team_id: str
    key: str
    title: str
    text: str
    tags: list[str]
    link: str | None
    author_user_id: str
    author_name: str | None


def note_document(note: Note) -> SourceDocument:
    """Keyed by the modal that produced it, so a resubmitted form cannot create a twin."""
    return SourceDocument(
        source=f"note:{note.team_id}/{note.key}",
        source_type=NOTE_SOURCE_TYPE,
        title=" ".join(note.title.split()) or "Note",
        sections=[Section(heading_path=(), text=note.text.strip(), atomic=True)],
        url=note.link,
        tags=[t.strip().lower() for t in note.tags if t.strip()] or None,
        owner=note.author_name,
        author_user_id=note.author_user_id,
        visibility=PUBLIC,
        saved_by_user_id=note.author_user_id,
    )
