"""training: learning paths, nudges as exactly-once sends, weekly digest posts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "training_digest_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("part", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("not_before", UTC_DATETIME, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", UTC_DATETIME, nullable=True),
        sa.Column("sent_at", UTC_DATETIME, nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("error", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_digest_posts")),
        sa.UniqueConstraint(
            "week", "channel", "part", name=op.f("uq_training_digest_posts_week_channel_part")
        ),
    )
    with op.batch_alter_table("training_digest_posts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_training_digest_posts_status"), ["status"])
    op.create_table(
        "training_paths",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("module_keys", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_paths")),
        sa.UniqueConstraint("key", name=op.f("uq_training_paths_key")),
    )
    with op.batch_alter_table("training_assignments", schema=None) as batch_op:
        batch_op.alter_column(
            "origin",
            existing_type=sa.String(length=16),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
    with op.batch_alter_table("training_nudges", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("not_before", UTC_DATETIME, nullable=True))
        batch_op.add_column(sa.Column("claimed_at", UTC_DATETIME, nullable=True))
        batch_op.add_column(sa.Column("channel_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("error", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_training_nudges_status"), ["status"])
    op.execute(
        "UPDATE training_nudges SET kind = 'due', not_before = COALESCE(sent_at, "
        "(SELECT created_at FROM training_assignments WHERE training_assignments.id = "
        "training_nudges.assignment_id))"
    )
    with op.batch_alter_table("training_nudges", schema=None) as batch_op:
        batch_op.alter_column("kind", existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column("not_before", existing_type=UTC_DATETIME, nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("training_nudges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_nudges_status"))
        batch_op.drop_column("error")
        batch_op.drop_column("channel_id")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("not_before")
        batch_op.drop_column("kind")
    with op.batch_alter_table("training_assignments", schema=None) as batch_op:
        batch_op.alter_column(
            "origin",
            existing_type=sa.String(length=64),
            type_=sa.String(length=16),
            existing_nullable=False,
        )
    op.drop_table("training_paths")
    with op.batch_alter_table("training_digest_posts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_digest_posts_status"))
    op.drop_table("training_digest_posts")
