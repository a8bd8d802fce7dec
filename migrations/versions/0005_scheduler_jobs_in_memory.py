"""scheduler jobs in memory: drop APScheduler's shared job table

Every scheduler now keeps its own jobs in memory (APScheduler: a job store must never be shared
between schedulers); the database rows of each message keep sends exactly once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JOB_TABLE = "apscheduler_jobs"


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table(JOB_TABLE):
        op.drop_table(JOB_TABLE)


def downgrade() -> None:
    """Nothing to restore: an older Lepton's APScheduler creates its job table itself."""
