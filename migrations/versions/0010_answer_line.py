"""answer line: stored sentence vectors per snippet, and which snippets an answer quoted

Snippets ingested before this have no sentence vectors: the next `lepton ingest` fills them in
without re-embedding the snippets, and until then an answer encodes its results' sentences
when it is composed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "snippet_sentences",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("snippet_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("vectors", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snippet_id"],
            ["snippets.id"],
            name="fk_snippet_sentences_snippet_id_snippets",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("snippet_id", name="pk_snippet_sentences"),
    )
    op.create_index("ix_snippet_sentences_team_id", "snippet_sentences", ["team_id"])
    with op.batch_alter_table("answer_snippets") as batch:
        batch.add_column(
            sa.Column("quoted", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("answer_snippets") as batch:
        batch.drop_column("quoted")
    op.drop_table("snippet_sentences")
