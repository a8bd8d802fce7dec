"""The state every outgoing Slack message Lepton sends on its own (survey invitations,
reminders, digests, nudges) keeps, so a restart, a second worker or a Slack error never sends
one twice and never drops one.

Each table that mixes this in has its own unique constraint saying what "once" means (one
invitation per person per round, ...). A row is claimed by a conditional UPDATE before the
message is sent; `attempts` above one means an earlier attempt may have reached Slack, so the
sender looks for it before posting again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
SKIPPED = "skipped"


class SendState:
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    not_before: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    channel_id: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(64))
