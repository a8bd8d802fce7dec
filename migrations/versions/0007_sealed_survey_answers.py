"""sealed survey answers: sealed while a round is open, unlinked single answers once closed

`survey_responses` held each person's answers in the clear while a round was open, in the same
commit that marked them as having answered. Open rounds' responses are sealed now (with the
secret `lepton migrate` is given, the same one the app derives from its signing secret), closed
rounds' responses are split into single answers and comments that point at nothing else (and
what too few gave is kept only as a count), and the old table is dropped (zeroed by SQLite's secure_delete; the worker then truncates the WAL).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base
from people.surveys.answers import LOCAL_SECRET
from people.surveys.closing import close_drafts
from people.surveys.sealing import Draft, Seal

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_DATETIME = models.base.UTCDateTime(timezone=True)


def _owner() -> list[sa.Column]:
    return [
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
    ]


def _round_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["round_id"],
        ["survey_rounds.id"],
        name=f"fk_{table}_round_id_survey_rounds",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    sealed = op.create_table(
        "survey_sealed_answers",
        *_owner(),
        sa.Column("respondent_key", sa.String(length=64), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        _round_fk("survey_sealed_answers"),
        sa.PrimaryKeyConstraint("respondent_key", name="pk_survey_sealed_answers"),
    )
    op.create_index("ix_survey_sealed_answers_team_id", "survey_sealed_answers", ["team_id"])
    answers = op.create_table(
        "survey_answers",
        *_owner(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("segment", sa.String(length=64), nullable=True),
        _round_fk("survey_answers"),
        sa.PrimaryKeyConstraint("id", name="pk_survey_answers"),
    )
    op.create_index("ix_survey_answers_team_id", "survey_answers", ["team_id"])
    op.create_index("ix_survey_answers_round_id", "survey_answers", ["round_id"])
    comments = op.create_table(
        "survey_comments",
        *_owner(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _round_fk("survey_comments"),
        sa.PrimaryKeyConstraint("id", name="pk_survey_comments"),
    )
    op.create_index("ix_survey_comments_team_id", "survey_comments", ["team_id"])
    op.create_index("ix_survey_comments_round_id", "survey_comments", ["round_id"])
    with op.batch_alter_table("survey_rounds") as batch:
        batch.add_column(sa.Column("tally", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("scrubbed_at", UTC_DATETIME, nullable=True))
    _move_responses(sealed, answers, comments)
    op.drop_table("survey_responses")


def _move_responses(sealed: sa.Table, answers: sa.Table, comments: sa.Table) -> None:
    """Open rounds' responses (they still have a respondent key) are sealed; closed rounds' are
    kept as a round closed now keeps them (`people.surveys.closing`)."""
    bind = op.get_bind()
    secret = op.get_context().config.attributes.get("lepton_survey_secret") or LOCAL_SECRET
    seal = Seal(secret)
    old = sa.table(
        "survey_responses",
        sa.column("round_id"),
        sa.column("respondent_key"),
        sa.column("segment"),
        sa.column("answers", sa.JSON()),
        sa.column("comment"),
    )
    rounds = sa.table(
        "survey_rounds",
        sa.column("id"),
        sa.column("survey_id"),
        sa.column("team_id"),
        sa.column("enterprise_id"),
        sa.column("closed_at"),
        sa.column("tally", sa.JSON()),
    )
    surveys = sa.table("surveys", sa.column("id"), sa.column("anonymity_threshold"))
    found = bind.execute(
        sa.select(rounds.c.id, rounds.c.team_id, rounds.c.enterprise_id, rounds.c.closed_at)
        .add_columns(surveys.c.anonymity_threshold)
        .join(surveys, surveys.c.id == rounds.c.survey_id)
    ).all()
    drafts: dict[int, list[Draft]] = {r.id: [] for r in found}
    for row in bind.execute(sa.select(old)).all():
        draft = Draft(dict(row.answers or {}), row.comment, row.segment)
        if row.respondent_key is None:
            drafts[row.round_id].append(draft)
            continue
        owner = next(r for r in found if r.id == row.round_id)
        op.bulk_insert(
            sealed,
            [
                {
                    "team_id": owner.team_id,
                    "enterprise_id": owner.enterprise_id,
                    "respondent_key": row.respondent_key,
                    "round_id": row.round_id,
                    "sealed": seal.close(row.round_id, row.respondent_key, draft),
                }
            ],
        )
    for r in found:
        if r.closed_at is None:
            continue
        closed = close_drafts(drafts[r.id], r.anonymity_threshold)
        owner = {"team_id": r.team_id, "enterprise_id": r.enterprise_id, "round_id": r.id}
        if closed.answers:
            op.bulk_insert(
                answers,
                [{**owner, "question": q, "value": v, "segment": s} for q, v, s in closed.answers],
            )
        if closed.comments:
            op.bulk_insert(comments, [{**owner, "text": text} for text in closed.comments])
        bind.execute(rounds.update().where(rounds.c.id == r.id).values(tally=closed.tally()))


def downgrade() -> None:
    """Refused once answers are stored: splitting them was the point, and nothing may join
    them back into one person's response."""
    for table in ("survey_sealed_answers", "survey_answers", "survey_comments"):
        if op.get_bind().execute(sa.text(f"SELECT 1 FROM {table} LIMIT 1")).first():
            raise RuntimeError(f"{table} holds survey answers; they cannot be rejoined")
    op.create_table(
        "survey_responses",
        *_owner(),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("respondent_key", sa.String(length=64), nullable=True),
        sa.Column("segment", sa.String(length=64), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        _round_fk("survey_responses"),
        sa.PrimaryKeyConstraint("id", name="pk_survey_responses"),
        sa.UniqueConstraint("respondent_key", name="uq_survey_responses_respondent_key"),
    )
    op.create_index("ix_survey_responses_team_id", "survey_responses", ["team_id"])
    with op.batch_alter_table("survey_rounds") as batch:
        batch.drop_column("scrubbed_at")
        batch.drop_column("tally")
    for table in ("survey_comments", "survey_answers", "survey_sealed_answers"):
        op.drop_table(table)
