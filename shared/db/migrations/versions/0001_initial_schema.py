"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-26 14:15:37.852265
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.db.types import GenRandomUuid

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Place names compare case-insensitively on SQLite (crm_tables.CASE_INSENSITIVE_TEXT).
_CASE_INSENSITIVE_TEXT = sa.Text().with_variant(sa.Text(collation="NOCASE"), "sqlite")
# search_prospects matches lower(city) on Postgres. Expression indexes cannot be reflected on
# SQLite, so this one lives here only, not in crm_tables (see the comment there).
_LOWER_CITY_INDEX = "ix_accounts_tenant_id_industry_lower_city"


def _is_postgres() -> bool:
    return op.get_context().dialect.name == "postgresql"


def upgrade() -> None:

    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), server_default=GenRandomUuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "settings",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("name", name=op.f("uq_tenants_name")),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.Uuid(), server_default=GenRandomUuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("industry", sa.Text(), nullable=True),
        sa.Column("city", _CASE_INSENSITIVE_TEXT, nullable=True),
        sa.Column("region", _CASE_INSENSITIVE_TEXT, nullable=True),
        sa.Column("country", sa.Text(), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("website", sa.Text(), nullable=True),
        sa.Column("google_place_id", sa.Text(), nullable=True),
        sa.Column("gmb_rating", sa.Float(), nullable=True),
        sa.Column("gmb_review_count", sa.Integer(), nullable=True),
        sa.Column(
            "gmb_hours", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("gmb_photos_count", sa.Integer(), nullable=True),
        sa.Column(
            "gmb_categories",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "lifecycle_stage", sa.Text(), server_default=sa.text("'prospect'"), nullable=False
        ),
        sa.Column("lead_score", sa.Float(), nullable=True),
        sa.Column("owner", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.CheckConstraint(
            "lifecycle_stage IN ('prospect', 'lead', 'qualified', 'customer', 'at_risk', 'churned')",
            name=op.f("ck_accounts_lifecycle_stage_valid"),
        ),
        sa.CheckConstraint(
            "lead_score IS NULL OR (lead_score >= 0 AND lead_score <= 100)",
            name=op.f("ck_accounts_lead_score_range"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_accounts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint(
            "tenant_id", "google_place_id", name=op.f("uq_accounts_tenant_id_google_place_id")
        ),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_accounts_tenant_id_gmb_rating"),
            ["tenant_id", "gmb_rating"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_accounts_tenant_id_industry_city"),
            ["tenant_id", "industry", "city", "lead_score", "gmb_rating", "lifecycle_stage"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_accounts_tenant_id_lead_score"),
            ["tenant_id", "lead_score"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_accounts_tenant_id_lifecycle_stage_lead_score"),
            ["tenant_id", "lifecycle_stage", "lead_score"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_accounts_tenant_id_updated_at"),
            ["tenant_id", "updated_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_accounts_tenant_id_name"),
            ["tenant_id", "name"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_accounts_tenant_id_gmb_review_count"),
            ["tenant_id", "gmb_review_count"],
            unique=False,
        )
    if _is_postgres():
        op.create_index(
            _LOWER_CITY_INDEX,
            "accounts",
            [
                *("tenant_id", "industry", sa.text("lower(city)")),
                *("lead_score", "gmb_rating", "lifecycle_stage"),
            ],
        )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Uuid(), server_default=GenRandomUuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column(
            "occurred_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("actor_role", sa.Text(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("argument_digest", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column(
            "details", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_audit_log_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_audit_log_tenant_id_occurred_at"),
            ["tenant_id", "occurred_at"],
            unique=False,
        )

    op.create_table(
        "event_queue",
        sa.Column("id", sa.Uuid(), server_default=GenRandomUuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column(
            "event_data", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("event_source", sa.Text(), nullable=True),
        sa.Column("priority", sa.Integer(), server_default=sa.text("5"), nullable=True),
        sa.Column(
            "scheduled_for",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.Column("max_retries", sa.Integer(), server_default=sa.text("3"), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=True),
        sa.Column("last_attempt", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "processing_result",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "error_details", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.Column("event_id", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.Text(), nullable=True),
        sa.Column(
            "workflow_triggers",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
        sa.Column("chain_depth", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("worker_id", sa.Text(), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_event_queue_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_queue")),
        sa.UniqueConstraint(
            "tenant_id", "event_id", name=op.f("uq_event_queue_tenant_id_event_id")
        ),
    )
    with op.batch_alter_table("event_queue", schema=None) as batch_op:
        batch_op.create_index(
            "ix_event_queue_claim",
            ["status", "tenant_id", "priority", "scheduled_for"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_event_queue_status_heartbeat_at"),
            ["status", "heartbeat_at"],
            unique=False,
        )

    op.create_table(
        "external_tool_configs",
        sa.Column("id", sa.Uuid(), server_default=GenRandomUuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("tool_name", sa.Text(), nullable=False),
        sa.Column("tool_version", sa.Text(), nullable=True),
        sa.Column("api_endpoint", sa.Text(), nullable=True),
        sa.Column("authentication_type", sa.Text(), nullable=True),
        sa.Column(
            "credentials", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column(
            "rate_limits", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column(
            "supported_operations",
            sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "webhook_endpoints",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "connection_status", sa.Text(), server_default=sa.text("'active'"), nullable=True
        ),
        sa.Column("last_health_check", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "health_check_results",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
        sa.Column("monthly_api_calls", sa.Integer(), server_default=sa.text("0"), nullable=True),
        sa.Column("last_api_call", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_count", sa.Integer(), server_default=sa.text("0"), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.Column(
            "settings", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_external_tool_configs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_tool_configs")),
        sa.UniqueConstraint(
            "tenant_id", "tool_name", name=op.f("uq_external_tool_configs_tenant_id_tool_name")
        ),
    )
    op.create_table(
        "external_mappings",
        sa.Column("id", sa.Uuid(), server_default=GenRandomUuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("crm_entity", sa.Text(), nullable=False),
        sa.Column("crm_id", sa.Text(), nullable=False),
        sa.Column("tool_name", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("external_url", sa.Text(), nullable=True),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("content_hash", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_external_mappings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_mappings")),
        sa.UniqueConstraint(
            "tenant_id",
            "tool_name",
            "crm_entity",
            "crm_id",
            name=op.f("uq_external_mappings_tenant_id_tool_name_crm_entity_crm_id"),
        ),
    )
    with op.batch_alter_table("external_mappings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_external_mappings_tenant_id_tool_name_external_id"),
            ["tenant_id", "tool_name", "external_id"],
            unique=False,
        )
    op.create_table(
        "sync_reconciliations",
        sa.Column("id", sa.Uuid(), server_default=GenRandomUuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("tool_name", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("fields_compared", sa.Integer(), nullable=False),
        sa.Column("fields_matching", sa.Integer(), nullable=False),
        sa.Column("drifted", sa.Integer(), nullable=False),
        sa.Column("repaired", sa.Integer(), nullable=False),
        sa.Column("resynced", sa.Integer(), nullable=False),
        sa.Column("accuracy_pct", sa.Float(), nullable=False),
        sa.Column("triggered_by", sa.Text(), nullable=True),
        sa.Column(
            "drift_by_field",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sync_reconciliations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_reconciliations")),
    )
    with op.batch_alter_table("sync_reconciliations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_reconciliations_tenant_id_tool_name_finished_at"),
            ["tenant_id", "tool_name", "finished_at"],
            unique=False,
        )
    op.create_table(
        "mcp_servers",
        sa.Column("id", sa.Uuid(), server_default=GenRandomUuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("server_name", sa.Text(), nullable=False),
        sa.Column("server_type", sa.Text(), nullable=True),
        sa.Column("endpoint_url", sa.Text(), nullable=True),
        sa.Column(
            "available_tools",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "supported_protocols",
            sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "access_permissions",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "rate_limits", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=True),
        sa.Column("last_accessed", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_mcp_servers_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mcp_servers")),
        sa.UniqueConstraint(
            "tenant_id", "server_name", name=op.f("uq_mcp_servers_tenant_id_server_name")
        ),
    )
    op.create_table(
        "workflow_definitions",
        sa.Column("id", sa.Uuid(), server_default=GenRandomUuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("category", sa.Text(), nullable=True),
        sa.Column("trigger_type", sa.Text(), nullable=False),
        sa.Column(
            "trigger_conditions",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
        sa.Column("primary_platform", sa.Text(), nullable=True),
        sa.Column("fallback_platform", sa.Text(), nullable=True),
        sa.Column("execution_priority", sa.Integer(), server_default=sa.text("5"), nullable=True),
        sa.Column(
            "workflow_steps",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "error_handling",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "retry_policy", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.Column("source_yaml", sa.Text(), nullable=True),
        sa.Column(
            "platform_refs", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_workflow_definitions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_definitions")),
        sa.UniqueConstraint(
            "tenant_id", "name", name=op.f("uq_workflow_definitions_tenant_id_name")
        ),
    )
    with op.batch_alter_table("workflow_definitions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_workflow_definitions_tenant_id_trigger_type_is_active"),
            ["tenant_id", "trigger_type", "is_active"],
            unique=False,
        )

    op.create_table(
        "ai_lead_qualification",
        sa.Column("id", sa.Uuid(), server_default=GenRandomUuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("grade", sa.Text(), nullable=False),
        sa.Column(
            "factors",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("recommended_action", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.CheckConstraint(
            "grade IN ('A', 'B', 'C', 'D')", name=op.f("ck_ai_lead_qualification_grade_valid")
        ),
        sa.CheckConstraint(
            "score BETWEEN 0 AND 100", name=op.f("ck_ai_lead_qualification_score_range")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_ai_lead_qualification_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ai_lead_qualification_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_lead_qualification")),
    )
    with op.batch_alter_table("ai_lead_qualification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ai_lead_qualification_tenant_id_account_id_created_at"),
            ["tenant_id", "account_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "campaigns",
        sa.Column("id", sa.Uuid(), server_default=GenRandomUuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'draft'"), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column(
            "audience", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Text(), server_default=sa.text("'manual'"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.CheckConstraint("channel IN ('email', 'sms')", name=op.f("ck_campaigns_channel_valid")),
        sa.CheckConstraint(
            "created_by IN ('manual', 'automation', 'agent')",
            name=op.f("ck_campaigns_created_by_valid"),
        ),
        sa.CheckConstraint(
            "kind IN ('acquisition', 'retention')", name=op.f("ck_campaigns_kind_valid")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_campaigns_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_campaigns_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaigns_tenant_id_kind_created_at"),
            ["tenant_id", "kind", "created_at"],
            unique=False,
        )

    op.create_table(
        "contacts",
        sa.Column("id", sa.Uuid(), server_default=GenRandomUuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("first_name", sa.Text(), nullable=True),
        sa.Column("last_name", sa.Text(), nullable=True),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("phone", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("is_primary", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_contacts_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_contacts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_tenant_id_account_id"),
            ["tenant_id", "account_id"],
            unique=False,
        )

    op.create_table(
        "customer_health_scores",
        sa.Column("id", sa.Uuid(), server_default=GenRandomUuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("churn_probability", sa.Float(), nullable=False),
        sa.Column(
            "drivers",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
        sa.Column("method", sa.Text(), nullable=True),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "churn_probability BETWEEN 0 AND 1",
            name=op.f("ck_customer_health_scores_churn_probability_range"),
        ),
        sa.CheckConstraint(
            "score BETWEEN 0 AND 100", name=op.f("ck_customer_health_scores_score_range")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_customer_health_scores_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_customer_health_scores_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_health_scores")),
    )
    with op.batch_alter_table("customer_health_scores", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_customer_health_scores_tenant_id_account_id_computed_at"),
            ["tenant_id", "account_id", "computed_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_customer_health_scores_tenant_id_churn_probability"),
            ["tenant_id", "churn_probability"],
            unique=False,
        )

    op.create_table(
        "deals",
        sa.Column("id", sa.Uuid(), server_default=GenRandomUuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("stage", sa.Text(), server_default=sa.text("'new'"), nullable=False),
        sa.Column(
            "amount",
            sa.Numeric(precision=12, scale=2, asdecimal=False),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column("currency", sa.Text(), server_default=sa.text("'USD'"), nullable=False),
        sa.Column("expected_close_date", sa.Date(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.CheckConstraint(
            "stage IN ('new', 'proposal', 'negotiation', 'won', 'lost')",
            name=op.f("ck_deals_stage_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_deals_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_deals_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deals")),
    )
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deals_tenant_id_account_id"), ["tenant_id", "account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_deals_tenant_id_stage_created_at"),
            ["tenant_id", "stage", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_deals_tenant_id_stage_closed_at_amount"),
            ["tenant_id", "stage", "closed_at", "amount"],
            unique=False,
        )

    op.create_table(
        "reviews",
        sa.Column("id", sa.Uuid(), server_default=GenRandomUuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text(), server_default=sa.text("'google'"), nullable=False),
        sa.Column("owner_response", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name=op.f("ck_reviews_rating_range")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_reviews_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_reviews_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_reviews_tenant_id_account_id_reviewed_at"),
            ["tenant_id", "account_id", "reviewed_at"],
            unique=False,
        )

    op.create_table(
        "transactions",
        sa.Column("id", sa.Uuid(), server_default=GenRandomUuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2, asdecimal=False), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_transactions_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_transactions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transactions_tenant_id_account_id_occurred_at"),
            ["tenant_id", "account_id", "occurred_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_transactions_tenant_id_occurred_at"),
            ["tenant_id", "occurred_at"],
            unique=False,
        )

    op.create_table(
        "workflow_executions",
        sa.Column("id", sa.Uuid(), server_default=GenRandomUuid(), nullable=False),
        sa.Column("workflow_definition_id", sa.Uuid(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("trigger_event_id", sa.Uuid(), nullable=True),
        sa.Column("execution_platform", sa.Text(), nullable=True),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.Text(), server_default=sa.text("'running'"), nullable=True),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "execution_result",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "error_details", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("retry_count", sa.Integer(), server_default=sa.text("0"), nullable=True),
        sa.Column("execution_time_ms", sa.Integer(), nullable=True),
        sa.Column(
            "memory_usage_mb", sa.Numeric(precision=10, scale=2, asdecimal=False), nullable=True
        ),
        sa.Column("external_api_calls", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.Column("workflow_version", sa.Integer(), nullable=True),
        sa.Column(
            "routing", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column(
            "step_state", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column("resume_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_workflow_executions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_definition_id"],
            ["workflow_definitions.id"],
            name=op.f("fk_workflow_executions_workflow_definition_id_workflow_definitions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_executions")),
    )
    with op.batch_alter_table("workflow_executions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_workflow_executions_tenant_id_status_started_at"),
            ["tenant_id", "status", "started_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_workflow_executions_tenant_id_workflow_definition_id_started_at"),
            ["tenant_id", "workflow_definition_id", "started_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_workflow_executions_trigger_event_id"),
            ["trigger_event_id"],
            unique=False,
        )

    op.create_table(
        "activities",
        sa.Column("id", sa.Uuid(), server_default=GenRandomUuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Text(), server_default=sa.text("'manual'"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.CheckConstraint(
            "created_by IN ('manual', 'automation', 'agent')",
            name=op.f("ck_activities_created_by_valid"),
        ),
        sa.CheckConstraint(
            "kind IN ('call', 'email', 'meeting', 'task', 'follow_up_call', 'sms', 'note')",
            name=op.f("ck_activities_kind_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_activities_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_activities_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_activities_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activities_tenant_id_account_id_created_at"),
            ["tenant_id", "account_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_activities_tenant_id_kind_due_at"),
            ["tenant_id", "kind", "due_at"],
            unique=False,
        )
    op.create_table(
        "event_archive",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=True),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "archived_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "record", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_event_archive_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_archive")),
    )
    with op.batch_alter_table("event_archive", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_archive_tenant_id_created_at"),
            ["tenant_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_event_archive_archived_at"), ["archived_at"], unique=False
        )

    op.create_table(
        "workflow_execution_archive",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("workflow_definition_id", sa.Uuid(), nullable=True),
        sa.Column("trigger_event_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "archived_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "record", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_workflow_execution_archive_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workflow_execution_archive")),
    )
    with op.batch_alter_table("workflow_execution_archive", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_workflow_execution_archive_tenant_id_started_at"),
            ["tenant_id", "started_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_workflow_execution_archive_trigger_event_id"),
            ["trigger_event_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_workflow_execution_archive_archived_at"),
            ["archived_at"],
            unique=False,
        )

    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), server_default=GenRandomUuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=True,
        ),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('viewer', 'operator', 'admin')", name=op.f("ck_api_keys_role_valid")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_api_keys_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_api_keys_key_id")),
    )


def downgrade() -> None:
    op.drop_table("workflow_execution_archive")
    op.drop_table("event_archive")
    op.drop_table("api_keys")

    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activities_tenant_id_kind_due_at"))
        batch_op.drop_index(batch_op.f("ix_activities_tenant_id_account_id_created_at"))

    op.drop_table("activities")
    with op.batch_alter_table("workflow_executions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workflow_executions_trigger_event_id"))
        batch_op.drop_index(
            batch_op.f("ix_workflow_executions_tenant_id_workflow_definition_id_started_at")
        )
        batch_op.drop_index(batch_op.f("ix_workflow_executions_tenant_id_status_started_at"))

    op.drop_table("workflow_executions")
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transactions_tenant_id_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_transactions_tenant_id_account_id_occurred_at"))

    op.drop_table("transactions")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reviews_tenant_id_account_id_reviewed_at"))

    op.drop_table("reviews")
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deals_tenant_id_stage_closed_at_amount"))
        batch_op.drop_index(batch_op.f("ix_deals_tenant_id_stage_created_at"))
        batch_op.drop_index(batch_op.f("ix_deals_tenant_id_account_id"))

    op.drop_table("deals")
    with op.batch_alter_table("customer_health_scores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_health_scores_tenant_id_churn_probability"))
        batch_op.drop_index(
            batch_op.f("ix_customer_health_scores_tenant_id_account_id_computed_at")
        )

    op.drop_table("customer_health_scores")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_tenant_id_account_id"))

    op.drop_table("contacts")
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaigns_tenant_id_kind_created_at"))

    op.drop_table("campaigns")
    with op.batch_alter_table("ai_lead_qualification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ai_lead_qualification_tenant_id_account_id_created_at"))

    op.drop_table("ai_lead_qualification")
    with op.batch_alter_table("workflow_definitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workflow_definitions_tenant_id_trigger_type_is_active"))

    op.drop_table("workflow_definitions")
    op.drop_table("mcp_servers")
    op.drop_table("sync_reconciliations")
    op.drop_table("external_mappings")
    op.drop_table("external_tool_configs")
    with op.batch_alter_table("event_queue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_queue_status_heartbeat_at"))
        batch_op.drop_index("ix_event_queue_claim")

    op.drop_table("event_queue")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_tenant_id_occurred_at"))

    op.drop_table("audit_log")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_tenant_id_gmb_review_count"))
        batch_op.drop_index(batch_op.f("ix_accounts_tenant_id_name"))
        batch_op.drop_index(batch_op.f("ix_accounts_tenant_id_updated_at"))
        batch_op.drop_index(batch_op.f("ix_accounts_tenant_id_lifecycle_stage_lead_score"))
        batch_op.drop_index(batch_op.f("ix_accounts_tenant_id_lead_score"))
        batch_op.drop_index(batch_op.f("ix_accounts_tenant_id_industry_city"))
        batch_op.drop_index(batch_op.f("ix_accounts_tenant_id_gmb_rating"))
    if _is_postgres():
        op.drop_index(_LOWER_CITY_INDEX, table_name="accounts")

    op.drop_table("accounts")
    op.drop_table("tenants")
