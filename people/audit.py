"""The audit trail of admin actions and privacy requests: who did what, when."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models import AuditLog


def record_audit(
    sessions: sessionmaker[Session],
    actor: str,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    with sessions() as session, session.begin():
        session.add(AuditLog(actor=actor, action=action, target=target, details=details or {}))
