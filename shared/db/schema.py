"""Every table of the store, on one MetaData (what Alembic compares migrations against)."""

from __future__ import annotations

from shared.db.crm_tables import (
    accounts,
    activities,
    ai_lead_qualification,
    campaigns,
    contacts,
    customer_health_scores,
    deals,
    reviews,
    tenants,
    transactions,
)
from shared.db.metadata import metadata
from shared.db.orchestration_tables import (
    api_keys,
    audit_log,
    event_queue,
    external_tool_configs,
    mcp_servers,
    workflow_definitions,
    workflow_executions,
)

__all__ = [
    "accounts",
    "activities",
    "ai_lead_qualification",
    "api_keys",
    "audit_log",
    "campaigns",
    "contacts",
    "customer_health_scores",
    "deals",
    "event_queue",
    "external_tool_configs",
    "mcp_servers",
    "metadata",
    "reviews",
    "tenants",
    "transactions",
    "workflow_definitions",
    "workflow_executions",
]
