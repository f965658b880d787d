"""The reference CRM schema Switchboard ships; an existing Supabase CRM maps onto it.

Lifecycle of an account: prospect -> lead -> qualified -> customer -> at_risk -> churned.
Every table carries tenant_id, and every index used by a tenant's queries starts with it.
"""

from __future__ import annotations

import sqlalchemy as sa

from shared.db.metadata import NOW, created_at, id_column, metadata, tenant_column, updated_at
from shared.db.types import JSONB, UUID, UtcDateTime

__all__ = [
    "LIFECYCLE_STAGES",
    "accounts",
    "activities",
    "ai_lead_qualification",
    "campaigns",
    "contacts",
    "customer_health_scores",
    "deals",
    "reviews",
    "tenants",
    "transactions",
]

LIFECYCLE_STAGES = ("prospect", "lead", "qualified", "customer", "at_risk", "churned")
DEAL_STAGES = ("new", "proposal", "negotiation", "won", "lost")
ACTIVITY_KINDS = ("call", "email", "meeting", "task", "follow_up_call", "sms", "note")
ACTOR_KINDS = ("manual", "automation", "agent")
CAMPAIGN_KINDS = ("acquisition", "retention")
CAMPAIGN_CHANNELS = ("email", "sms")


# Place names compare case-insensitively on SQLite (ASCII folding, as its lower() does), so
# an index on them serves `city = 'austin'`; Postgres matches lower(city) instead.
CASE_INSENSITIVE_TEXT = sa.Text().with_variant(sa.Text(collation="NOCASE"), "sqlite")


def _account_fk(*, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(
        "account_id", UUID, sa.ForeignKey("accounts.id", ondelete="CASCADE"), nullable=nullable
    )


def _in(column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=f"{column}_valid")


tenants = sa.Table(
    "tenants",
    metadata,
    id_column(),
    sa.Column("name", sa.Text(), nullable=False, unique=True),
    sa.Column("settings", JSONB, nullable=False, server_default=sa.text("'{}'")),
    created_at(),
)

accounts = sa.Table(
    "accounts",
    metadata,
    id_column(),
    tenant_column(),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("industry", sa.Text()),
    sa.Column("city", CASE_INSENSITIVE_TEXT),
    sa.Column("region", CASE_INSENSITIVE_TEXT),
    sa.Column("country", sa.Text()),
    sa.Column("address", sa.Text()),
    sa.Column("phone", sa.Text()),
    sa.Column("email", sa.Text()),
    sa.Column("website", sa.Text()),
    # Google Business Profile
    sa.Column("google_place_id", sa.Text()),
    sa.Column("gmb_rating", sa.Float()),
    sa.Column("gmb_review_count", sa.Integer()),
    sa.Column("gmb_hours", JSONB),
    sa.Column("gmb_photos_count", sa.Integer()),
    sa.Column("gmb_categories", JSONB),
    sa.Column("lifecycle_stage", sa.Text(), nullable=False, server_default=sa.text("'prospect'")),
    sa.Column("lead_score", sa.Float()),
    sa.Column("owner", sa.Text()),
    sa.Column("notes", sa.Text()),
    sa.Column("source", sa.Text()),  # where the record came from: manual, apify, import...
    created_at(),
    updated_at(),
    _in("lifecycle_stage", LIFECYCLE_STAGES),
    sa.CheckConstraint(
        "lead_score IS NULL OR (lead_score >= 0 AND lead_score <= 100)", name="lead_score_range"
    ),
    sa.UniqueConstraint("tenant_id", "google_place_id"),
    # search_prospects' common filter and default sort. On Postgres the search matches
    # lower(city) through an expression index made by migration 0001 (SQLAlchemy cannot
    # reflect those on SQLite, so it stays out of the metadata); on SQLite city and region
    # compare case-insensitively (NOCASE), so this plain index serves the search there.
    # Rating and stage ride along so the capped total count of the usual search reads the
    # index alone. On Postgres that count uses migration 0005's (tenant_id, industry,
    # lower(city), lifecycle_stage, gmb_rating) INCLUDE (city, id), also out of the metadata.
    sa.Index(
        "ix_accounts_tenant_id_industry_city",
        *("tenant_id", "industry", "city", "lead_score", "gmb_rating", "lifecycle_stage"),
    ),
    sa.Index(None, "tenant_id", "lifecycle_stage", "lead_score"),
    sa.Index(None, "tenant_id", "lead_score"),
    sa.Index(None, "tenant_id", "gmb_rating"),
    sa.Index(None, "tenant_id", "updated_at"),
    # search_prospects sorts by name and by review count too
    sa.Index(None, "tenant_id", "name"),
    sa.Index(None, "tenant_id", "gmb_review_count"),
)

contacts = sa.Table(
    "contacts",
    metadata,
    id_column(),
    tenant_column(),
    _account_fk(),
    sa.Column("first_name", sa.Text()),
    sa.Column("last_name", sa.Text()),
    sa.Column("email", sa.Text()),
    sa.Column("phone", sa.Text()),
    sa.Column("title", sa.Text()),
    sa.Column("is_primary", sa.Boolean(), nullable=False, server_default=sa.false()),
    created_at(),
    sa.Index(None, "tenant_id", "account_id"),
)

deals = sa.Table(
    "deals",
    metadata,
    id_column(),
    tenant_column(),
    _account_fk(),
    sa.Column("title", sa.Text(), nullable=False),
    sa.Column("stage", sa.Text(), nullable=False, server_default=sa.text("'new'")),
    sa.Column(
        "amount", sa.Numeric(12, 2, asdecimal=False), nullable=False, server_default=sa.text("0")
    ),
    sa.Column("currency", sa.Text(), nullable=False, server_default=sa.text("'USD'")),
    sa.Column("expected_close_date", sa.Date()),
    sa.Column("closed_at", UtcDateTime()),
    created_at(),
    updated_at(),
    _in("stage", DEAL_STAGES),
    sa.Index(None, "tenant_id", "account_id"),
    sa.Index(None, "tenant_id", "stage", "created_at"),
    # Covers "won revenue by month" (query_crm, pipeline_summary): stage and closed_at pick
    # the rows, amount comes from the index itself, so the table is never read.
    sa.Index(None, "tenant_id", "stage", "closed_at", "amount"),
)

activities = sa.Table(
    "activities",
    metadata,
    id_column(),
    tenant_column(),
    _account_fk(),
    sa.Column("contact_id", UUID, sa.ForeignKey("contacts.id", ondelete="SET NULL")),
    sa.Column("kind", sa.Text(), nullable=False),
    sa.Column("subject", sa.Text(), nullable=False),
    sa.Column("body", sa.Text()),
    sa.Column("due_at", UtcDateTime()),
    sa.Column("done_at", UtcDateTime()),
    # Who created it: the spec's success metric counts follow-ups made by automation.
    sa.Column("created_by", sa.Text(), nullable=False, server_default=sa.text("'manual'")),
    created_at(),
    _in("kind", ACTIVITY_KINDS),
    _in("created_by", ACTOR_KINDS),
    sa.Index(None, "tenant_id", "account_id", "created_at"),
    sa.Index(None, "tenant_id", "kind", "due_at"),
)

campaigns = sa.Table(
    "campaigns",
    metadata,
    id_column(),
    tenant_column(),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("kind", sa.Text(), nullable=False),
    sa.Column("channel", sa.Text(), nullable=False),
    sa.Column("status", sa.Text(), nullable=False, server_default=sa.text("'draft'")),
    sa.Column("account_id", UUID, sa.ForeignKey("accounts.id", ondelete="SET NULL")),
    sa.Column("message", sa.Text()),
    sa.Column("audience", JSONB),
    sa.Column("scheduled_at", UtcDateTime()),
    sa.Column("created_by", sa.Text(), nullable=False, server_default=sa.text("'manual'")),
    created_at(),
    _in("kind", CAMPAIGN_KINDS),
    _in("channel", CAMPAIGN_CHANNELS),
    _in("created_by", ACTOR_KINDS),
    sa.Index(None, "tenant_id", "kind", "created_at"),
)

reviews = sa.Table(
    "reviews",
    metadata,
    id_column(),
    tenant_column(),
    _account_fk(),
    sa.Column("rating", sa.Integer(), nullable=False),
    sa.Column("text", sa.Text()),
    sa.Column("author", sa.Text()),
    sa.Column("reviewed_at", UtcDateTime(), nullable=False),
    sa.Column("source", sa.Text(), nullable=False, server_default=sa.text("'google'")),
    sa.Column("owner_response", sa.Text()),
    created_at(),
    sa.CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
    sa.Index(None, "tenant_id", "account_id", "reviewed_at"),
)

transactions = sa.Table(
    "transactions",
    metadata,
    id_column(),
    tenant_column(),
    _account_fk(),
    sa.Column("amount", sa.Numeric(12, 2, asdecimal=False), nullable=False),
    sa.Column("occurred_at", UtcDateTime(), nullable=False),
    sa.Column("description", sa.Text()),
    created_at(),
    sa.Index(None, "tenant_id", "account_id", "occurred_at"),
    sa.Index(None, "tenant_id", "occurred_at"),
)

customer_health_scores = sa.Table(
    "customer_health_scores",
    metadata,
    id_column(),
    tenant_column(),
    _account_fk(),
    sa.Column("score", sa.Float(), nullable=False),
    sa.Column("churn_probability", sa.Float(), nullable=False),
    sa.Column("drivers", JSONB, nullable=False, server_default=sa.text("'[]'")),
    sa.Column("method", sa.Text()),
    sa.Column("computed_at", UtcDateTime(), nullable=False, server_default=NOW),
    sa.CheckConstraint("score BETWEEN 0 AND 100", name="score_range"),
    sa.CheckConstraint("churn_probability BETWEEN 0 AND 1", name="churn_probability_range"),
    sa.Index(None, "tenant_id", "account_id", "computed_at"),
    sa.Index(None, "tenant_id", "churn_probability"),
)

ai_lead_qualification = sa.Table(
    "ai_lead_qualification",
    metadata,
    id_column(),
    tenant_column(),
    _account_fk(),
    sa.Column("score", sa.Float(), nullable=False),
    sa.Column("grade", sa.Text(), nullable=False),
    sa.Column("factors", JSONB, nullable=False, server_default=sa.text("'[]'")),
    sa.Column("model_version", sa.Text(), nullable=False),
    sa.Column("recommended_action", sa.Text()),
    created_at(),
    sa.CheckConstraint("score BETWEEN 0 AND 100", name="score_range"),
    sa.CheckConstraint("grade IN ('A', 'B', 'C', 'D')", name="grade_valid"),
    sa.Index(None, "tenant_id", "account_id", "created_at"),
)
