"""workspaces: every row of a workspace's data carries its team (and Grid enterprise)

Existing rows belong to the one workspace Lepton served before: `lepton migrate` passes its
team (from `auth.test` with the bot token, the only OAuth installation, or `--team`), else the
local console's team, which a single-workspace install adopts on its first start.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOCAL_TEAM = "T0LEPTON"
UTC_DATETIME = models.base.UTCDateTime(timezone=True)
HAD_TEAM = ("answers", "query_log")
PLAIN = (
    "answer_snippets",
    "audit_log",
    "knowledge_gaps",
    "ratings",
    "snippet_embeddings",
    "snippets",
    "survey_deliveries",
    "survey_digest_posts",
    "survey_reminders",
    "survey_responses",
    "survey_rounds",
    "training_assignments",
)
REKEYED = {
    "documents": ("source",),
    "surveys": ("key",),
    "training_modules": ("key",),
    "training_paths": ("key",),
    "training_nudges": ("user_id", "local_day"),
    "training_digest_posts": ("week", "channel", "part"),
}
NEW_PRIMARY_KEY = {"processed_events": ("key",), "survey_opt_outs": ("user_id",)}
TOKEN_COLUMNS = {
    "slack_installations": ("bot_token", "bot_refresh_token", "user_token", "user_refresh_token"),
    "slack_bots": ("bot_token", "bot_refresh_token"),
}
"""Installation tokens are stored encrypted now, which needs more room than slack_sdk's 200."""


def _team() -> str:
    return str(op.get_context().config.attributes.get("lepton_team") or LOCAL_TEAM)


def _team_column(nullable: bool) -> sa.Column:
    return sa.Column("team_id", sa.String(length=32), nullable=nullable)


def _enterprise_column() -> sa.Column:
    return sa.Column("enterprise_id", sa.String(length=32), nullable=True)


def _add_and_fill(table: str, *, has_team: bool = False) -> None:
    with op.batch_alter_table(table) as batch:
        if not has_team:
            batch.add_column(_team_column(True))
        batch.add_column(_enterprise_column())
    op.execute(
        sa.table(table, sa.column("team_id"))
        .update()
        .where(sa.column("team_id").is_(None))
        .values(team_id=_team())
    )


def _scoped(table: str, unique: tuple[str, ...] = (), *, has_team: bool = False) -> None:
    _add_and_fill(table, has_team=has_team)
    with op.batch_alter_table(table) as batch:
        batch.alter_column("team_id", existing_type=sa.String(length=32), nullable=False)
        batch.create_index(f"ix_{table}_team_id", ["team_id"], unique=False)
        if unique:
            batch.drop_constraint(f"uq_{table}_{'_'.join(unique)}", type_="unique")
            batch.create_unique_constraint(
                f"uq_{table}_team_id_{'_'.join(unique)}", ["team_id", *unique]
            )


def _rekey(table: str, key: tuple[str, ...]) -> None:
    """The team joins the primary key; SQLite cannot alter one, so the table is rebuilt."""
    _add_and_fill(table)
    with op.batch_alter_table(table, recreate="always") as batch:
        batch.alter_column("team_id", existing_type=sa.String(length=32), nullable=False)
        batch.drop_constraint(f"pk_{table}", type_="primary")
        batch.create_primary_key(f"pk_{table}", ["team_id", *key])


def _index_state_per_team() -> None:
    """One version row per workspace; the old single row becomes the backfilled team's."""
    old = sa.table("index_state", sa.column("version"), sa.column("model"))
    rows = op.get_bind().execute(sa.select(old.c.version, old.c.model)).all()
    op.drop_table("index_state")
    state = op.create_table(
        "index_state",
        _team_column(False),
        _enterprise_column(),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("team_id", name="pk_index_state"),
    )
    if rows:
        op.bulk_insert(
            state,
            [
                {
                    "team_id": _team(),
                    "version": rows[0].version,
                    "model": rows[0].model,
                    "updated_at": datetime.now(UTC),
                }
            ],
        )


def upgrade() -> None:
    for table in HAD_TEAM:
        _scoped(table, has_team=True)
    for table in PLAIN:
        _scoped(table)
    for table, unique in REKEYED.items():
        _scoped(table, unique)
    for table, key in NEW_PRIMARY_KEY.items():
        _rekey(table, key)
    _index_state_per_team()
    _token_columns(200, 400)


def _token_columns(old: int, new: int) -> None:
    for table, columns in TOKEN_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(
                    column, existing_type=sa.String(length=old), type_=sa.String(length=new)
                )


def downgrade() -> None:
    """Back to one workspace: refused while the database holds more than one."""
    teams = op.get_bind().execute(sa.text("SELECT DISTINCT team_id FROM documents")).all()
    if len(teams) > 1:
        raise RuntimeError("several workspaces' knowledge is stored; a downgrade would merge it")
    _token_columns(400, 200)
    rows = op.get_bind().execute(sa.text("SELECT version, model FROM index_state")).all()
    op.drop_table("index_state")
    state = op.create_table(
        "index_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=True),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_index_state"),
    )
    if rows:
        op.bulk_insert(
            state,
            [
                {
                    "id": 1,
                    "version": max(r.version for r in rows),
                    "model": rows[0].model,
                    "updated_at": datetime.now(UTC),
                }
            ],
        )
    for table, key in NEW_PRIMARY_KEY.items():
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.drop_constraint(f"pk_{table}", type_="primary")
            batch.create_primary_key(f"pk_{table}", list(key))
            batch.drop_column("enterprise_id")
            batch.drop_column("team_id")
    for table, unique in REKEYED.items():
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"uq_{table}_team_id_{'_'.join(unique)}", type_="unique")
            batch.drop_index(f"ix_{table}_team_id")
            batch.create_unique_constraint(f"uq_{table}_{'_'.join(unique)}", list(unique))
            batch.drop_column("enterprise_id")
            batch.drop_column("team_id")
    for table in PLAIN:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_team_id")
            batch.drop_column("enterprise_id")
            batch.drop_column("team_id")
    for table in HAD_TEAM:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(f"ix_{table}_team_id")
            batch.alter_column("team_id", existing_type=sa.String(length=32), nullable=True)
            batch.drop_column("enterprise_id")
