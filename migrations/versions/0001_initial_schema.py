"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)

    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=1024), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=True),
        sa.Column("author_user_id", sa.String(length=32), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("topic", sa.String(length=128), nullable=True),
        sa.Column("difficulty", sa.String(length=32), nullable=True),
        sa.Column("source_created_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("source_updated_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("source", name=op.f("uq_documents_source")),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_documents_author_user_id"), ["author_user_id"], unique=False
        )

    op.create_table(
        "index_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=True),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_index_state")),
    )
    op.create_table(
        "knowledge_gaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=512), nullable=False),
        sa.Column("question_count", sa.Integer(), nullable=False),
        sa.Column("centroid", sa.LargeBinary(), nullable=True),
        sa.Column("first_seen_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_gaps")),
    )
    op.create_table(
        "survey_opt_outs",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_survey_opt_outs")),
    )
    op.create_table(
        "surveys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("anonymity_threshold", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_surveys")),
        sa.UniqueConstraint("key", name=op.f("uq_surveys_key")),
    )
    op.create_table(
        "training_modules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("topic", sa.String(length=128), nullable=True),
        sa.Column("difficulty", sa.String(length=32), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_modules")),
        sa.UniqueConstraint("key", name=op.f("uq_training_modules_key")),
    )
    op.create_table(
        "query_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("surface", sa.String(length=32), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("result_count", sa.Integer(), nullable=False),
        sa.Column("top_score", sa.Double(), nullable=True),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("gap_id", sa.Integer(), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gap_id"],
            ["knowledge_gaps.id"],
            name=op.f("fk_query_log_gap_id_knowledge_gaps"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_query_log")),
    )
    with op.batch_alter_table("query_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_query_log_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_query_log_user_created", ["user_id", "created_at"], unique=False)

    op.create_table(
        "snippets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("section", sa.String(length=1024), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=True),
        sa.Column("author", sa.String(length=255), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("topic", sa.String(length=128), nullable=True),
        sa.Column("difficulty", sa.String(length=32), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_snippets_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snippets")),
    )
    with op.batch_alter_table("snippets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_snippets_channel_id"), ["channel_id"], unique=False)
        batch_op.create_index(
            "ix_snippets_document_ordinal", ["document_id", "ordinal"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_snippets_topic"), ["topic"], unique=False)

    op.create_table(
        "survey_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survey_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("opened_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closes_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("digest_posted_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["survey_id"],
            ["surveys.id"],
            name=op.f("fk_survey_rounds_survey_id_surveys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_rounds")),
        sa.UniqueConstraint("survey_id", "number", name=op.f("uq_survey_rounds_survey_id_number")),
    )
    op.create_table(
        "training_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("assigned_by", sa.String(length=32), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("due_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("snoozed_until", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["training_modules.id"],
            name=op.f("fk_training_assignments_module_id_training_modules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_assignments")),
        sa.UniqueConstraint(
            "user_id", "module_id", name=op.f("uq_training_assignments_user_id_module_id")
        ),
    )
    with op.batch_alter_table("training_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_training_assignments_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "training_module_prerequisites",
        sa.Column("module_id", sa.Integer(), nullable=False),
        sa.Column("prerequisite_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["training_modules.id"],
            name=op.f("fk_training_module_prerequisites_module_id_training_modules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["prerequisite_id"],
            ["training_modules.id"],
            name=op.f("fk_training_module_prerequisites_prerequisite_id_training_modules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "module_id", "prerequisite_id", name=op.f("pk_training_module_prerequisites")
        ),
    )
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("query_id", sa.Integer(), nullable=True),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("message_ts", sa.String(length=32), nullable=False),
        sa.Column("thread_ts", sa.String(length=32), nullable=True),
        sa.Column("asker_user_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["query_id"],
            ["query_log.id"],
            name=op.f("fk_answers_query_id_query_log"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_answers")),
        sa.UniqueConstraint(
            "channel_id", "message_ts", name=op.f("uq_answers_channel_id_message_ts")
        ),
    )
    op.create_table(
        "snippet_embeddings",
        sa.Column("snippet_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("dim", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["snippet_id"],
            ["snippets.id"],
            name=op.f("fk_snippet_embeddings_snippet_id_snippets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("snippet_id", name=op.f("pk_snippet_embeddings")),
    )
    with op.batch_alter_table("snippet_embeddings", schema=None) as batch_op:
        batch_op.create_index("ix_snippet_embeddings_model", ["model"], unique=False)

    op.create_table(
        "survey_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("segment", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("send_after", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("dm_channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("sent_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("responded", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["survey_rounds.id"],
            name=op.f("fk_survey_deliveries_round_id_survey_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_deliveries")),
        sa.UniqueConstraint(
            "round_id", "user_id", name=op.f("uq_survey_deliveries_round_id_user_id")
        ),
    )
    op.create_table(
        "survey_responses",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("respondent_key", sa.String(length=64), nullable=True),
        sa.Column("segment", sa.String(length=64), nullable=True),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["survey_rounds.id"],
            name=op.f("fk_survey_responses_round_id_survey_rounds"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint("respondent_key", name=op.f("uq_survey_responses_respondent_key")),
    )
    op.create_table(
        "training_nudges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("local_day", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["training_assignments.id"],
            name=op.f("fk_training_nudges_assignment_id_training_assignments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_training_nudges")),
        sa.UniqueConstraint(
            "user_id", "local_day", name=op.f("uq_training_nudges_user_id_local_day")
        ),
    )
    op.create_table(
        "answer_snippets",
        sa.Column("answer_id", sa.Integer(), nullable=False),
        sa.Column("snippet_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["answer_id"],
            ["answers.id"],
            name=op.f("fk_answer_snippets_answer_id_answers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["snippet_id"],
            ["snippets.id"],
            name=op.f("fk_answer_snippets_snippet_id_snippets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("answer_id", "snippet_id", name=op.f("pk_answer_snippets")),
    )
    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("snippet_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=64), nullable=False),
        sa.Column("answer_id", sa.Integer(), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("value IN (-1, 1)", name=op.f("ck_ratings_value_is_vote")),
        sa.ForeignKeyConstraint(
            ["answer_id"],
            ["answers.id"],
            name=op.f("fk_ratings_answer_id_answers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["snippet_id"],
            ["snippets.id"],
            name=op.f("fk_ratings_snippet_id_snippets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
        sa.UniqueConstraint("user_id", "snippet_id", name=op.f("uq_ratings_user_id_snippet_id")),
    )
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index("ix_ratings_snippet", ["snippet_id"], unique=False)

    op.create_table(
        "slack_bots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("enterprise_name", sa.String(length=200), nullable=True),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("team_name", sa.String(length=200), nullable=True),
        sa.Column("bot_token", sa.String(length=200), nullable=True),
        sa.Column("bot_id", sa.String(length=32), nullable=True),
        sa.Column("bot_user_id", sa.String(length=32), nullable=True),
        sa.Column("bot_scopes", sa.String(length=1000), nullable=True),
        sa.Column("bot_refresh_token", sa.String(length=200), nullable=True),
        sa.Column("bot_token_expires_at", sa.DateTime(), nullable=True),
        sa.Column("is_enterprise_install", sa.Boolean(), nullable=False),
        sa.Column("installed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("slack_bots", schema=None) as batch_op:
        batch_op.create_index(
            "slack_bots_idx",
            ["client_id", "enterprise_id", "team_id", "installed_at"],
            unique=False,
        )

    op.create_table(
        "slack_installations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("enterprise_name", sa.String(length=200), nullable=True),
        sa.Column("enterprise_url", sa.String(length=200), nullable=True),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("team_name", sa.String(length=200), nullable=True),
        sa.Column("bot_token", sa.String(length=200), nullable=True),
        sa.Column("bot_id", sa.String(length=32), nullable=True),
        sa.Column("bot_user_id", sa.String(length=32), nullable=True),
        sa.Column("bot_scopes", sa.String(length=1000), nullable=True),
        sa.Column("bot_refresh_token", sa.String(length=200), nullable=True),
        sa.Column("bot_token_expires_at", sa.DateTime(), nullable=True),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("user_token", sa.String(length=200), nullable=True),
        sa.Column("user_scopes", sa.String(length=1000), nullable=True),
        sa.Column("user_refresh_token", sa.String(length=200), nullable=True),
        sa.Column("user_token_expires_at", sa.DateTime(), nullable=True),
        sa.Column("incoming_webhook_url", sa.String(length=200), nullable=True),
        sa.Column("incoming_webhook_channel", sa.String(length=200), nullable=True),
        sa.Column("incoming_webhook_channel_id", sa.String(length=200), nullable=True),
        sa.Column("incoming_webhook_configuration_url", sa.String(length=200), nullable=True),
        sa.Column("is_enterprise_install", sa.Boolean(), nullable=False),
        sa.Column("token_type", sa.String(length=32), nullable=True),
        sa.Column("installed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("slack_installations", schema=None) as batch_op:
        batch_op.create_index(
            "slack_installations_idx",
            ["client_id", "enterprise_id", "team_id", "user_id", "installed_at"],
            unique=False,
        )

    op.create_table(
        "slack_oauth_states",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("state", sa.String(length=200), nullable=False),
        sa.Column("expire_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("slack_oauth_states")
    with op.batch_alter_table("slack_installations", schema=None) as batch_op:
        batch_op.drop_index("slack_installations_idx")

    op.drop_table("slack_installations")
    with op.batch_alter_table("slack_bots", schema=None) as batch_op:
        batch_op.drop_index("slack_bots_idx")

    op.drop_table("slack_bots")
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_index("ix_ratings_snippet")

    op.drop_table("ratings")
    op.drop_table("answer_snippets")
    op.drop_table("training_nudges")
    op.drop_table("survey_responses")
    op.drop_table("survey_deliveries")
    with op.batch_alter_table("snippet_embeddings", schema=None) as batch_op:
        batch_op.drop_index("ix_snippet_embeddings_model")

    op.drop_table("snippet_embeddings")
    op.drop_table("answers")
    op.drop_table("training_module_prerequisites")
    with op.batch_alter_table("training_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_assignments_user_id"))

    op.drop_table("training_assignments")
    op.drop_table("survey_rounds")
    with op.batch_alter_table("snippets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_snippets_topic"))
        batch_op.drop_index("ix_snippets_document_ordinal")
        batch_op.drop_index(batch_op.f("ix_snippets_channel_id"))

    op.drop_table("snippets")
    with op.batch_alter_table("query_log", schema=None) as batch_op:
        batch_op.drop_index("ix_query_log_user_created")
        batch_op.drop_index(batch_op.f("ix_query_log_created_at"))

    op.drop_table("query_log")
    op.drop_table("training_modules")
    op.drop_table("surveys")
    op.drop_table("survey_opt_outs")
    op.drop_table("knowledge_gaps")
    op.drop_table("index_state")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_documents_author_user_id"))

    op.drop_table("documents")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
