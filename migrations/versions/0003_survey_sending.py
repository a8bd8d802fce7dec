"""surveys: send state on deliveries, reminders and digest posts as their own rows

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = models.base.UTCDateTime(timezone=True)


def _send_state() -> list[sa.Column]:
    return [
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("not_before", UTC_DATETIME, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", UTC_DATETIME, nullable=True),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("error", sa.String(length=64), nullable=True),
    ]


def _round_child(name: str, *columns: sa.Column, unique: tuple[str, ...]) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        *columns,
        *_send_state(),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["survey_rounds.id"],
            name=op.f(f"fk_{name}_round_id_survey_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{name}")),
        sa.UniqueConstraint(*unique, name=op.f(f"uq_{name}_{'_'.join(unique)}")),
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{name}_status"), ["status"], unique=False)


def upgrade() -> None:
    _round_child(
        "survey_digest_posts",
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("part", sa.String(length=16), nullable=False),
        unique=("round_id", "channel", "part"),
    )
    _round_child(
        "survey_reminders",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        unique=("round_id", "user_id"),
    )
    with op.batch_alter_table("survey_rounds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scheduled_for", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("send_on", sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column("planned_at", UTC_DATETIME, nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_survey_rounds_survey_id_scheduled_for"), ["survey_id", "scheduled_for"]
        )
        batch_op.drop_column("digest_posted_at")
    op.execute("UPDATE survey_rounds SET send_on = substr(CAST(opened_at AS VARCHAR), 1, 10)")
    with op.batch_alter_table("survey_rounds", schema=None) as batch_op:
        batch_op.alter_column("send_on", existing_type=sa.String(length=10), nullable=False)

    with op.batch_alter_table("survey_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("not_before", UTC_DATETIME, nullable=True))
        batch_op.add_column(sa.Column("claimed_at", UTC_DATETIME, nullable=True))
        batch_op.add_column(sa.Column("channel_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("error", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("tz", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_survey_deliveries_status"), ["status"], unique=False)
    op.execute(
        "UPDATE survey_deliveries SET channel_id = dm_channel_id, "
        "not_before = COALESCE(send_after, sent_at, "
        "(SELECT opened_at FROM survey_rounds WHERE survey_rounds.id = round_id))"
    )
    with op.batch_alter_table("survey_deliveries", schema=None) as batch_op:
        batch_op.alter_column("not_before", existing_type=UTC_DATETIME, nullable=False)
        batch_op.drop_column("send_after")
        batch_op.drop_column("reminded_at")
        batch_op.drop_column("dm_channel_id")


def downgrade() -> None:
    with op.batch_alter_table("survey_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dm_channel_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("reminded_at", UTC_DATETIME, nullable=True))
        batch_op.add_column(sa.Column("send_after", UTC_DATETIME, nullable=True))
    op.execute("UPDATE survey_deliveries SET dm_channel_id = channel_id, send_after = not_before")
    with op.batch_alter_table("survey_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_survey_deliveries_status"))
        batch_op.drop_column("tz")
        batch_op.drop_column("error")
        batch_op.drop_column("channel_id")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("not_before")
    with op.batch_alter_table("survey_rounds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("digest_posted_at", UTC_DATETIME, nullable=True))
        batch_op.drop_constraint(
            batch_op.f("uq_survey_rounds_survey_id_scheduled_for"), type_="unique"
        )
        batch_op.drop_column("planned_at")
        batch_op.drop_column("send_on")
        batch_op.drop_column("scheduled_for")
    for name in ("survey_reminders", "survey_digest_posts"):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f"ix_{name}_status"))
        op.drop_table(name)
