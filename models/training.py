"""Training catalog, assignments and the nudges sent about them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, Timestamped
from models.sending import SendState
from models.workspace import WorkspaceOwned

module_prerequisites = Table(
    "training_module_prerequisites",
    Base.metadata,
    Column("module_id", ForeignKey("training_modules.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "prerequisite_id", ForeignKey("training_modules.id", ondelete="CASCADE"), primary_key=True
    ),
)


class TrainingModule(WorkspaceOwned, Timestamped, Base):
    __tablename__ = "training_modules"
    __table_args__ = (UniqueConstraint("team_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255))
    url: Mapped[str | None] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(default=list)
    topic: Mapped[str | None] = mapped_column(String(128))
    difficulty: Mapped[str | None] = mapped_column(String(32))
    minutes: Mapped[int | None]

    prerequisites: Mapped[list[TrainingModule]] = relationship(
        secondary=module_prerequisites,
        primaryjoin=lambda: TrainingModule.id == module_prerequisites.c.module_id,
        secondaryjoin=lambda: TrainingModule.id == module_prerequisites.c.prerequisite_id,
    )


class Assignment(WorkspaceOwned, Timestamped, Base):
    __tablename__ = "training_assignments"
    __table_args__ = (UniqueConstraint("user_id", "module_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), index=True)
    module_id: Mapped[int] = mapped_column(ForeignKey("training_modules.id", ondelete="CASCADE"))
    assigned_by: Mapped[str | None] = mapped_column(String(32))
    origin: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    snoozed_until: Mapped[datetime | None]


class Nudge(WorkspaceOwned, SendState, Base):
    """One reminder DM about someone's training; at most one per person per local day,
    enforced by the constraint, which is also what makes a nudge slot exactly-once."""

    __tablename__ = "training_nudges"
    __table_args__ = (UniqueConstraint("team_id", "user_id", "local_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32))
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("training_assignments.id", ondelete="CASCADE")
    )
    local_day: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(16), default="due")


class LearningPath(WorkspaceOwned, Timestamped, Base):
    """An ordered set of modules assigned together; order respects prerequisites."""

    __tablename__ = "training_paths"
    __table_args__ = (UniqueConstraint("team_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    module_keys: Mapped[list[str]] = mapped_column(default=list)


class TrainingDigestPost(WorkspaceOwned, SendState, Base):
    """The weekly completion digest (`part` "summary" or "chart") for one channel and week."""

    __tablename__ = "training_digest_posts"
    __table_args__ = (UniqueConstraint("team_id", "week", "channel", "part"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(64))
    part: Mapped[str] = mapped_column(String(16))
