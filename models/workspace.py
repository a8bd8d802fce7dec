"""Which Slack workspace a row belongs to, and sessions that can only see one workspace.

Every table holding a workspace's data mixes in `WorkspaceOwned`. A session made by
`workspace_sessions` adds `team_id = <its workspace>` to every ORM SELECT, UPDATE and DELETE
touching such a table (SQLAlchemy's `with_loader_criteria` through `do_orm_execute`), and stamps
the workspace on every object it inserts. Scoping is therefore not something each query has to
remember: a query that forgets it still sees one workspace only. A plain session (no workspace)
may touch workspace rows only when the statement says so with `ALL_WORKSPACES`, which the few
cross-workspace jobs (migrations, deleting a workspace, the worker's list of rounds) use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, event, select
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    sessionmaker,
    with_loader_criteria,
)

from models.base import Base

WORKSPACE_KEY = "lepton_workspace"
ALL_WORKSPACES = {"lepton_all_workspaces": True}
"""Execution options of a statement that is meant to cross workspaces."""

LOCAL_TEAM = "T0LEPTON"
"""The workspace of a Lepton with no Slack credentials (the console, a local ingest); a
single-workspace install adopts its rows on first start with a real token."""


@dataclass(frozen=True)
class Workspace:
    """A Slack workspace (`team_id`), and its Enterprise Grid organisation where Slack sends
    one. An org-wide install without a team is keyed by the enterprise id."""

    team_id: str
    enterprise_id: str | None = None

    @classmethod
    def of(cls, team_id: str | None, enterprise_id: str | None = None) -> Workspace | None:
        key = team_id or enterprise_id
        return cls(key, enterprise_id or None) if key else None


class WorkspaceOwned:
    team_id: Mapped[str] = mapped_column(String(32), index=True)
    enterprise_id: Mapped[str | None] = mapped_column(String(32))


class CrossWorkspaceQuery(RuntimeError):
    """A statement on workspace data from a session bound to no workspace, without saying it
    means to cross workspaces: a bug that would otherwise leak one workspace into another."""


def workspace_sessions(
    factory: sessionmaker[Session], workspace: Workspace
) -> sessionmaker[Session]:
    """A session factory like `factory` whose sessions see and write `workspace` only."""
    return sessionmaker(
        factory.kw["bind"],
        expire_on_commit=factory.kw.get("expire_on_commit", True),
        info={WORKSPACE_KEY: workspace},
    )


def session_workspace(session: Session) -> Workspace | None:
    found = session.info.get(WORKSPACE_KEY)
    return found if isinstance(found, Workspace) else None


@event.listens_for(Session, "do_orm_execute")
def _scope_statement(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return
    workspace = session_workspace(state.session)
    if workspace is None:
        if state.execution_options.get("lepton_all_workspaces"):
            return
        if any(issubclass(mapper.class_, WorkspaceOwned) for mapper in state.all_mappers):
            raise CrossWorkspaceQuery(str(state.statement)[:200])
        return
    team = workspace.team_id
    state.statement = state.statement.options(
        with_loader_criteria(WorkspaceOwned, lambda cls: cls.team_id == team, include_aliases=True)
    )


@event.listens_for(Session, "before_flush")
def _stamp_new_rows(session: Session, _context: Any, _instances: Any) -> None:
    workspace = session_workspace(session)
    for obj in session.new:
        if not isinstance(obj, WorkspaceOwned):
            continue
        if workspace is None:
            if not obj.team_id:
                raise CrossWorkspaceQuery(f"new {type(obj).__name__} with no workspace")
            continue
        if obj.team_id and obj.team_id != workspace.team_id:
            raise CrossWorkspaceQuery(f"{type(obj).__name__} of another workspace")
        obj.team_id = workspace.team_id
        obj.enterprise_id = workspace.enterprise_id


def stamp(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for a Core INSERT (an upsert) with the session's workspace added: Core inserts
    bypass the flush that stamps ORM objects."""
    workspace = session_workspace(session)
    if workspace is None:
        raise CrossWorkspaceQuery("an insert of workspace rows from an unscoped session")
    owner = {"team_id": workspace.team_id, "enterprise_id": workspace.enterprise_id}
    return [{**row, **owner} for row in rows]


def purge_workspace(session: Session, team_id: str) -> dict[str, int]:
    """Delete every row of one workspace, children before parents; rows deleted by table."""
    deleted: dict[str, int] = {}
    for table in reversed(Base.metadata.sorted_tables):
        if "team_id" not in table.c:
            continue
        gone = session.execute(table.delete().where(table.c.team_id == team_id)).rowcount
        if gone:
            deleted[table.name] = int(gone)
    return deleted


def adopt_local_rows(session: Session, workspace: Workspace) -> int:
    """Give the local console's rows to `workspace` when it has none of its own: data loaded
    before a single-workspace install had its bot token becomes that workspace's. Returns how
    many rows moved (0 when the workspace already holds data, so nothing is ever merged)."""
    if workspace.team_id == LOCAL_TEAM:
        return 0
    tables = [t for t in Base.metadata.sorted_tables if "team_id" in t.c]
    for table in tables:
        found = session.execute(
            select(table.c.team_id).where(table.c.team_id == workspace.team_id).limit(1)
        ).first()
        if found is not None:
            return 0
    moved = 0
    for table in tables:
        moved += int(
            session.execute(
                table.update()
                .where(table.c.team_id == LOCAL_TEAM)
                .values(team_id=workspace.team_id, enterprise_id=workspace.enterprise_id)
            ).rowcount
            or 0
        )
    return moved
