"""document answerers: who answered a Slack thread, for `/lepton who`

Threads ingested before this have none until they are ingested again (their content hash
does not change, so `lepton ingest` of the same export fills them in without re-embedding).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "document_answerers",
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name="fk_document_answerers_document_id_documents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("document_id", "user_id", name="pk_document_answerers"),
    )
    op.create_index("ix_document_answerers_team_id", "document_answerers", ["team_id"])
    op.create_index("ix_document_answerers_user_id", "document_answerers", ["user_id"])


def downgrade() -> None:
    op.drop_table("document_answerers")
