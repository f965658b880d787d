"""The spec's five orchestration tables, every column as specified, plus the audit log.

Columns after the `# additive` marker in each table are ours (idempotency, leases,
versions); the spec allows additive changes only, so nothing of its own is renamed.
"""

from __future__ import annotations

import sqlalchemy as sa

from shared.db.metadata import NOW, created_at, id_column, metadata, tenant_column, updated_at
from shared.db.types import JSONB, TEXT_ARRAY, UUID, UtcDateTime

__all__ = [
    "api_keys",
    "audit_log",
    "event_archive",
    "event_queue",
    "external_mappings",
    "external_tool_configs",
    "mcp_servers",
    "sync_reconciliations",
    "workflow_definitions",
    "workflow_execution_archive",
    "workflow_executions",
]

workflow_definitions = sa.Table(
    "workflow_definitions",
    metadata,
    id_column(),
    tenant_column(),
    sa.Column("name", sa.Text(), nullable=False),
    sa.Column("description", sa.Text()),
    sa.Column("category", sa.Text()),  # acquisition | qualification | retention | analytics
    sa.Column("trigger_type", sa.Text(), nullable=False),  # event | schedule | webhook | manual
    sa.Column("trigger_conditions", JSONB),
    sa.Column("primary_platform", sa.Text()),  # n8n | make | internal
    sa.Column("fallback_platform", sa.Text()),
    sa.Column("execution_priority", sa.Integer(), server_default=sa.text("5")),
    sa.Column("workflow_steps", JSONB, nullable=False),
    sa.Column("error_handling", JSONB),
    sa.Column("retry_policy", JSONB),
    sa.Column("is_active", sa.Boolean(), server_default=sa.true()),
    sa.Column("version", sa.Integer(), server_default=sa.text("1")),
    sa.Column("created_by", UUID),
    created_at(),
    updated_at(),
    # additive
    sa.Column("source_yaml", sa.Text()),
    sa.Column("platform_refs", JSONB),  # e.g. the n8n workflow id and webhook path
    sa.UniqueConstraint("tenant_id", "name"),
    sa.Index(None, "tenant_id", "trigger_type", "is_active"),
)

workflow_executions = sa.Table(
    "workflow_executions",
    metadata,
    id_column(),
    sa.Column(
        "workflow_definition_id",
        UUID,
        sa.ForeignKey("workflow_definitions.id", ondelete="SET NULL"),
    ),
    tenant_column(),
    sa.Column("trigger_event_id", UUID),
    sa.Column("execution_platform", sa.Text()),
    sa.Column("customer_id", UUID),
    sa.Column("status", sa.Text(), server_default=sa.text("'running'")),
    sa.Column("started_at", UtcDateTime(), server_default=NOW),
    sa.Column("completed_at", UtcDateTime()),
    sa.Column("execution_result", JSONB),
    sa.Column("error_details", JSONB),
    sa.Column("retry_count", sa.Integer(), server_default=sa.text("0")),
    sa.Column("execution_time_ms", sa.Integer()),
    sa.Column("memory_usage_mb", sa.Numeric(10, 2, asdecimal=False)),
    sa.Column("external_api_calls", sa.Integer()),
    created_at(),
    # additive
    sa.Column("workflow_version", sa.Integer()),
    sa.Column("routing", JSONB),  # the platform decision and its reason, failovers
    sa.Column("step_state", JSONB),  # checkpointed step results, for durable resume
    sa.Column("resume_at", UtcDateTime()),  # a durable `wait` parks the execution until then
    sa.Index(None, "tenant_id", "status", "started_at"),
    sa.Index(None, "tenant_id", "workflow_definition_id", "started_at"),
    sa.Index(None, "trigger_event_id"),
)

external_tool_configs = sa.Table(
    "external_tool_configs",
    metadata,
    id_column(),
    tenant_column(),
    sa.Column("tool_name", sa.Text(), nullable=False),  # n8n | make | clickup | apify
    sa.Column("tool_version", sa.Text()),
    sa.Column("api_endpoint", sa.Text()),
    sa.Column("authentication_type", sa.Text()),  # api_key | oauth | webhook_token
    sa.Column("credentials", JSONB),  # encrypted: {"ciphertext": "..."} only
    sa.Column("rate_limits", JSONB),
    sa.Column("supported_operations", TEXT_ARRAY),
    sa.Column("webhook_endpoints", JSONB),
    sa.Column("connection_status", sa.Text(), server_default=sa.text("'active'")),
    sa.Column("last_health_check", UtcDateTime()),
    sa.Column("health_check_results", JSONB),
    sa.Column("monthly_api_calls", sa.Integer(), server_default=sa.text("0")),
    sa.Column("last_api_call", UtcDateTime()),
    sa.Column("error_count", sa.Integer(), server_default=sa.text("0")),
    created_at(),
    updated_at(),
    # additive
    sa.Column("settings", JSONB),  # per-platform options: ClickUp lists and field ids, zone...
    sa.UniqueConstraint("tenant_id", "tool_name"),
)

# Which external object (a ClickUp task, ...) stands for which CRM record, so a retry or a
# re-sync updates the same object instead of creating a second one.
external_mappings = sa.Table(
    "external_mappings",
    metadata,
    id_column(),
    tenant_column(),
    sa.Column("crm_entity", sa.Text(), nullable=False),  # accounts | deals | contacts
    sa.Column("crm_id", sa.Text(), nullable=False),
    sa.Column("tool_name", sa.Text(), nullable=False),
    sa.Column("external_id", sa.Text(), nullable=False),
    sa.Column("external_url", sa.Text()),
    sa.Column("last_synced_at", UtcDateTime()),
    sa.Column("content_hash", sa.Text()),  # of the fields last written, to skip no-op updates
    created_at(),
    updated_at(),
    sa.UniqueConstraint("tenant_id", "tool_name", "crm_entity", "crm_id"),
    sa.Index(None, "tenant_id", "tool_name", "external_id"),
)

# One row per reconciliation run (orchestration/platforms/clickup_reconcile_runs.py): what
# was compared, what had drifted and what was repaired; the dashboard's sync accuracy.
sync_reconciliations = sa.Table(
    "sync_reconciliations",
    metadata,
    id_column(),
    tenant_column(),
    sa.Column("tool_name", sa.Text(), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime(), nullable=False),
    sa.Column("records", sa.Integer(), nullable=False),
    sa.Column("fields_compared", sa.Integer(), nullable=False),
    sa.Column("fields_matching", sa.Integer(), nullable=False),
    sa.Column("drifted", sa.Integer(), nullable=False),  # fields (or missing tasks) that differed
    sa.Column("repaired", sa.Integer(), nullable=False),  # of those, written back
    sa.Column("resynced", sa.Integer(), nullable=False),  # records whose task was made again
    sa.Column("accuracy_pct", sa.Float(), nullable=False),
    sa.Column("triggered_by", sa.Text()),  # cli, schedule, tool caller
    sa.Column("drift_by_field", JSONB),  # {"lead_score": 2}: counts only, never values
    sa.Index(None, "tenant_id", "tool_name", "finished_at"),
)

mcp_servers = sa.Table(
    "mcp_servers",
    metadata,
    id_column(),
    tenant_column(),
    sa.Column("server_name", sa.Text(), nullable=False),
    sa.Column("server_type", sa.Text()),  # supabase | n8n | custom
    sa.Column("endpoint_url", sa.Text()),
    sa.Column("available_tools", JSONB),
    sa.Column("supported_protocols", TEXT_ARRAY),
    sa.Column("access_permissions", JSONB),
    sa.Column("rate_limits", JSONB),
    sa.Column("is_active", sa.Boolean(), server_default=sa.true()),
    sa.Column("last_accessed", UtcDateTime()),
    created_at(),
    updated_at(),
    sa.UniqueConstraint("tenant_id", "server_name"),
)

event_queue = sa.Table(
    "event_queue",
    metadata,
    id_column(),
    tenant_column(),
    sa.Column("event_type", sa.Text(), nullable=False),
    sa.Column("event_data", JSONB, nullable=False),
    sa.Column("event_source", sa.Text()),
    sa.Column("priority", sa.Integer(), server_default=sa.text("5")),
    sa.Column("scheduled_for", UtcDateTime(), server_default=NOW),
    sa.Column("max_retries", sa.Integer(), server_default=sa.text("3")),
    sa.Column("status", sa.Text(), server_default=sa.text("'pending'")),
    sa.Column("attempts", sa.Integer(), server_default=sa.text("0")),
    sa.Column("last_attempt", UtcDateTime()),
    sa.Column("processing_result", JSONB),
    sa.Column("error_details", JSONB),
    created_at(),
    updated_at(),
    # additive
    sa.Column("event_id", sa.Text()),  # the publisher's eventId: dedup key per tenant
    sa.Column("customer_id", sa.Text()),
    sa.Column("workflow_triggers", JSONB),
    sa.Column("chain_depth", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("worker_id", sa.Text()),
    sa.Column("heartbeat_at", UtcDateTime()),
    sa.Column("occurred_at", UtcDateTime()),  # the event's own timestamp, from its publisher
    sa.UniqueConstraint("tenant_id", "event_id"),
    # Partial indexes, one per stage of an event's life (migration 0006 says why): each
    # holds only the rows its queries look for, so it stays as small as that stage however
    # many finished events the table keeps, and a status change writes one entry, not one
    # per index. The claim lists the tenants with pending work by skipping through this one,
    # then reads each tenant's best events in order from it.
    sa.Index(
        "ix_event_queue_pending",
        "tenant_id",
        "priority",
        "scheduled_for",
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    ),
    # Leases: the reaper's expired heartbeats, a worker's renewals.
    sa.Index(
        "ix_event_queue_processing",
        "heartbeat_at",
        postgresql_where=sa.text("status = 'processing'"),
        sqlite_where=sa.text("status = 'processing'"),
    ),
    # Retention's old completed events, dead letters to list and replay.
    sa.Index(
        "ix_event_queue_finished",
        "status",
        "updated_at",
        postgresql_where=sa.text("status IN ('completed', 'failed')"),
        sqlite_where=sa.text("status IN ('completed', 'failed')"),
    ),
)

# Retention (orchestration/queue/retention.py) moves finished events and executions here so
# the hot tables stay small; `record` is the whole original row as JSON.
event_archive = sa.Table(
    "event_archive",
    metadata,
    sa.Column("id", UUID, primary_key=True),  # the event_queue id it had
    tenant_column(),
    sa.Column("event_id", sa.Text()),
    sa.Column("event_type", sa.Text(), nullable=False),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("created_at", UtcDateTime()),
    sa.Column("finished_at", UtcDateTime()),
    sa.Column("archived_at", UtcDateTime(), nullable=False, server_default=NOW),
    sa.Column("record", JSONB, nullable=False),
    sa.Index(None, "tenant_id", "created_at"),
    sa.Index(None, "archived_at"),
)

workflow_execution_archive = sa.Table(
    "workflow_execution_archive",
    metadata,
    sa.Column("id", UUID, primary_key=True),  # the workflow_executions id it had
    tenant_column(),
    sa.Column("workflow_definition_id", UUID),
    sa.Column("trigger_event_id", UUID),
    sa.Column("status", sa.Text(), nullable=False),
    sa.Column("started_at", UtcDateTime()),
    sa.Column("completed_at", UtcDateTime()),
    sa.Column("archived_at", UtcDateTime(), nullable=False, server_default=NOW),
    sa.Column("record", JSONB, nullable=False),
    sa.Index(None, "tenant_id", "started_at"),
    sa.Index(None, "trigger_event_id"),
    sa.Index(None, "archived_at"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    id_column(),
    tenant_column(),
    sa.Column("key_id", sa.Text(), nullable=False, unique=True),  # public part of the key
    sa.Column("secret_hash", sa.Text(), nullable=False),  # sha256 of the secret part
    sa.Column("role", sa.Text(), nullable=False),
    sa.Column("label", sa.Text()),
    created_at(),
    sa.Column("last_used_at", UtcDateTime()),
    sa.Column("revoked_at", UtcDateTime()),
    sa.CheckConstraint("role IN ('viewer', 'operator', 'admin')", name="role_valid"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    id_column(),
    sa.Column("tenant_id", UUID, sa.ForeignKey("tenants.id", ondelete="CASCADE")),
    sa.Column("occurred_at", UtcDateTime(), nullable=False, server_default=NOW),
    sa.Column("actor", sa.Text(), nullable=False),  # key id, JWT subject, "cli", "worker"
    sa.Column("actor_role", sa.Text()),
    sa.Column("action", sa.Text(), nullable=False),  # tool name, admin action, outbound call
    sa.Column("target", sa.Text()),
    sa.Column("argument_digest", sa.Text()),  # sha256 of canonical arguments, never the values
    sa.Column("outcome", sa.Text(), nullable=False),  # ok | error | denied
    sa.Column("duration_ms", sa.Integer()),
    sa.Column("details", JSONB),
    sa.Index(None, "tenant_id", "occurred_at"),
)
