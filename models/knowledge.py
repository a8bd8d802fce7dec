"""Knowledge: documents as ingested, the snippets cut from them, and their stored embeddings.

The database is the source of truth; the FAISS index is a cache rebuilt from `SnippetEmbedding`
rows, and `IndexState.version` tells every process when its copy is stale.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Timestamped, utcnow
from models.workspace import WorkspaceOwned

PUBLIC = "public"
CHANNEL = "channel"


class Document(WorkspaceOwned, Timestamped, Base):
    """One source item (a file, an FAQ pair, a Slack thread, a saved message)."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("team_id", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_type: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(1024))
    title: Mapped[str] = mapped_column(String(512))
    url: Mapped[str | None] = mapped_column(String(2048))
    content_hash: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(255))
    author_user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    saved_by_user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    channel_id: Mapped[str | None] = mapped_column(String(32))
    visibility: Mapped[str] = mapped_column(String(16), default=PUBLIC)
    tags: Mapped[list[str]] = mapped_column(default=list)
    topic: Mapped[str | None] = mapped_column(String(128))
    difficulty: Mapped[str | None] = mapped_column(String(32))
    source_created_at: Mapped[datetime | None]
    source_updated_at: Mapped[datetime | None]

    snippets: Mapped[list[Snippet]] = relationship(
        back_populates="document",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Snippet.ordinal",
    )
    answerers: Mapped[list[DocumentAnswerer]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )


class DocumentAnswerer(WorkspaceOwned, Base):
    """Someone who answered a Slack thread, weighted by the reactions their replies earned;
    `/lepton who` credits them, never the person who asked."""

    __tablename__ = "document_answerers"

    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)
    weight: Mapped[int] = mapped_column(default=1)


class Snippet(WorkspaceOwned, Timestamped, Base):
    """A searchable chunk with the metadata results show and filters use."""

    __tablename__ = "snippets"
    __table_args__ = (Index("ix_snippets_document_ordinal", "document_id", "ordinal"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    ordinal: Mapped[int]
    title: Mapped[str] = mapped_column(String(512))
    section: Mapped[str | None] = mapped_column(String(1024))
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(2048))
    author: Mapped[str | None] = mapped_column(String(255))
    channel_id: Mapped[str | None] = mapped_column(String(32), index=True)
    visibility: Mapped[str] = mapped_column(String(16), default=PUBLIC)
    tags: Mapped[list[str]] = mapped_column(default=list)
    topic: Mapped[str | None] = mapped_column(String(128), index=True)
    difficulty: Mapped[str | None] = mapped_column(String(32))
    content_hash: Mapped[str] = mapped_column(String(64))

    document: Mapped[Document] = relationship(back_populates="snippets")
    embedding: Mapped[SnippetEmbedding | None] = relationship(
        back_populates="snippet",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class SnippetEmbedding(WorkspaceOwned, Base):
    """The normalised float32 vector of a snippet, kept so reindexing never re-embeds."""

    __tablename__ = "snippet_embeddings"
    __table_args__ = (Index("ix_snippet_embeddings_model", "model"),)

    snippet_id: Mapped[int] = mapped_column(
        ForeignKey("snippets.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(255))
    dim: Mapped[int]
    vector: Mapped[bytes] = mapped_column(LargeBinary)

    snippet: Mapped[Snippet] = relationship(back_populates="embedding")


class SnippetSentences(WorkspaceOwned, Base):
    """The vectors of a snippet's quotable sentences (float16, in the order
    `indexer.answers.sentences.quotable` yields them), made at ingest so that composing an
    answer line reads a few rows instead of running the model on the results' sentences."""

    __tablename__ = "snippet_sentences"

    snippet_id: Mapped[int] = mapped_column(
        ForeignKey("snippets.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(255))
    count: Mapped[int]
    vectors: Mapped[bytes] = mapped_column(LargeBinary)


class IndexState(WorkspaceOwned, Base):
    """One row per workspace: bumped on every change to its snippets, so stale copies of that
    workspace's index can be detected."""

    __tablename__ = "index_state"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
    model: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
