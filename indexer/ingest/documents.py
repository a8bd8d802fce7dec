"""Plain values passed between loaders, chunking and the ingest pipeline."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime

from models.knowledge import CHANNEL, PUBLIC

__all__ = ["CHANNEL", "PUBLIC", "LoadResult", "Section", "Skipped", "SourceDocument"]


@dataclass(frozen=True)
class Section:
    """A run of text under one heading path, e.g. ("Deploying", "Rollbacks").

    `anchor` is the fragment that links straight to the section (without '#'), when the source
    has one. A section marked `atomic` is never split or merged (an FAQ pair, a Slack thread).
    """

    heading_path: tuple[str, ...]
    text: str
    anchor: str | None = None
    atomic: bool = False


@dataclass
class SourceDocument:
    """One item a loader read, before chunking: a file, an FAQ pair, a Slack thread.

    `source` is the stable identity used for idempotent re-ingest and pruning; `url` is what a
    person clicks. Metadata left as None is derived later (tags, topic, difficulty).
    """

    source: str
    source_type: str
    title: str
    sections: list[Section]
    url: str | None = None
    tags: list[str] | None = None
    topic: str | None = None
    difficulty: str | None = None
    owner: str | None = None
    author_user_id: str | None = None
    channel_id: str | None = None
    visibility: str = PUBLIC
    created_at: datetime | None = None
    updated_at: datetime | None = None
    saved_by_user_id: str | None = None
    answerers: tuple[tuple[str, int], ...] = ()
    """Who answered a Slack thread (never its asker), each with 1 + the reactions their
    replies earned: what `/lepton who` credits."""

    @property
    def text(self) -> str:
        return "\n\n".join(s.text for s in self.sections)

    def content_hash(self) -> str:
        """Changes whenever anything that ends up in a snippet changes."""
        payload = asdict(self)
        for key in ("created_at", "updated_at"):
            value = payload[key]
            payload[key] = value.isoformat() if value else None
        encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Skipped:
    """A path or item a loader could not use, with a reason a person can act on."""

    source: str
    reason: str


@dataclass
class LoadResult:
    documents: list[SourceDocument] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    files_read: int = 0

    def extend(self, other: LoadResult) -> None:
        self.documents.extend(other.documents)
        self.skipped.extend(other.skipped)
        self.files_read += other.files_read
