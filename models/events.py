"""Slack deliveries already handled, so a retried event or a second web process never produces
a second answer or a second rating."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow
from models.workspace import WorkspaceOwned


class ProcessedEvent(WorkspaceOwned, Base):
    """`done` is false while a handler runs; a claim left unfinished by a killed process can be
    taken over by Slack's later retry instead of being lost."""

    __tablename__ = "processed_events"

    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    done: Mapped[bool] = mapped_column(default=False)
