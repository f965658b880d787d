"""What the orchestration tools return. Every model is plain data (ids, names, statuses,
counts); credentials never appear in any of them, only credential *names*.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from servers.mcp.common.budget import Truncatable

__all__ = [
    "ClickUpSyncOut",
    "CollectionOut",
    "ConnectionCheckOut",
    "DryRunStep",
    "EventEmittedOut",
    "ExecutionListOut",
    "ExecutionOut",
    "McpServerListOut",
    "McpServerOut",
    "PlatformHealthOut",
    "PlatformStatusOut",
    "ReplayOut",
    "RetryOut",
    "TemplateInstallOut",
    "TemplateOut",
    "ToolConfiguredOut",
    "TriggerOut",
    "WorkflowDetailOut",
    "WorkflowListOut",
    "WorkflowSavedOut",
    "WorkflowSummaryOut",
]


class WorkflowSummaryOut(BaseModel):
    id: str
    name: str
    version: int
    is_active: bool
    category: str | None = None
    trigger_type: str
    primary_platform: str
    fallback_platform: str | None = None
    step_count: int
    updated_at: str | None = None


class WorkflowListOut(Truncatable):
    workflows: list[WorkflowSummaryOut]
    total: int = Field(description="How many workflows the workspace has (matching the filter)")


class WorkflowDetailOut(WorkflowSummaryOut):
    description: str | None = None
    trigger: dict[str, Any] = Field(description="type plus its event_type, cron, endpoint...")
    steps: list[dict[str, Any]] = Field(description="Each step as the YAML writes it")
    yaml: str = Field(description="The definition as YAML: edit it and pass to update_workflow")


class WorkflowSavedOut(BaseModel):
    workflow: WorkflowSummaryOut
    created: bool = Field(description="True: a new workflow; false: an existing one was updated")
    changed: bool = Field(description="False: the stored definition was already identical")


class TemplateOut(BaseModel):
    slug: str
    name: str
    category: str
    description: str
    platforms: list[str]


class TemplateInstallOut(BaseModel):
    templates: list[TemplateOut] = Field(description="Every template there is")
    installed: WorkflowSavedOut | None = Field(
        default=None, description="The workflow installed (none when no template was named)"
    )
    platform: str | None = Field(
        default=None, description="Where it was installed: internal, n8n or make"
    )
    platform_refs: dict[str, Any] | None = Field(
        default=None,
        description="What the platform created (n8n workflow id and webhook path, Make "
        "scenario id and hook URL); none for internal",
    )


class DryRunStep(BaseModel):
    key: str
    name: str
    action: str
    condition: str | None = None
    would_run: Literal["yes", "no", "unknown"] = Field(
        description="unknown: the condition reads an earlier step's output, known only at run"
    )
    reason: str


class TriggerOut(BaseModel):
    workflow: str
    dry_run: bool
    queue_id: str | None = Field(default=None, description="The queued run (not for a dry run)")
    event_id: str | None = None
    duplicate: bool = Field(default=False, description="True: this event_id was already queued")
    routing: dict[str, Any] | None = Field(
        default=None, description="Dry run: the platform it would run on, and why others not"
    )
    steps: list[DryRunStep] = Field(default_factory=list[DryRunStep])
    next_step: str


class EventEmittedOut(BaseModel):
    queue_id: str
    event_id: str
    event_type: str
    accepted: bool = Field(description="False: an event with this event_id was already queued")


class ExecutionOut(BaseModel):
    id: str
    workflow: str | None = None
    workflow_version: int | None = None
    status: str
    execution_platform: str | None = None
    trigger_event_id: str | None = None
    started_at: str | None = None
    completed_at: str | None = None
    resume_at: str | None = None
    execution_time_ms: int | None = None
    retry_count: int = 0
    external_api_calls: int = 0
    routing: dict[str, Any] | None = None
    error_details: dict[str, Any] | None = None
    execution_result: dict[str, Any] | None = None
    steps: dict[str, Any] | None = Field(
        default=None, description="get_execution only: each step's status and output"
    )


class ExecutionListOut(Truncatable):
    executions: list[ExecutionOut]
    count: int


class RetryOut(BaseModel):
    execution_id: str
    trigger_event_id: str
    requeued: bool
    next_step: str


class ReplayOut(BaseModel):
    replayed: int = Field(description="How many dead-lettered events were queued again")
    matched: int = Field(description="How many events the ids or filter selected")
    confirmed: bool
    event_ids: list[str] = Field(default_factory=list[str], description="Queue ids selected")
    next_step: str


class PlatformHealthOut(BaseModel):
    tool: str
    endpoint: str | None = None
    connection_status: str | None = Field(
        default=None, description="active, degraded, down or unauthorized (last health check)"
    )
    last_health_check: str | None = None
    health_detail: str | None = None
    circuit_state: str = Field(description="closed, open or half_open in this process")
    seconds_until_trial: float = Field(description="Open circuit: seconds until a trial call")
    rate_limit_headroom: float | None = Field(
        default=None, description="Requests that may go out now without waiting"
    )
    monthly_api_calls: int = 0
    error_count: int = 0
    last_api_call: str | None = None
    credential_names: list[str] = Field(default_factory=list[str])


class PlatformStatusOut(BaseModel):
    platforms: list[PlatformHealthOut]
    not_configured: list[str] = Field(description="Known platforms without a configuration")


class ConnectionCheckOut(BaseModel):
    tool: str
    valid: bool
    connection_status: str
    latency_ms: int | None = None
    circuit_state: str | None = None
    detail: str | None = None


class ToolConfiguredOut(BaseModel):
    tool: str
    created: bool
    endpoint: str | None = None
    credential_names: list[str] = Field(description="Names only; values are stored encrypted")
    settings_keys: list[str]
    next_step: str


class McpServerOut(BaseModel):
    id: str
    server_name: str
    server_type: str | None = None
    endpoint_url: str | None = None
    available_tools: list[str] = Field(default_factory=list[str])
    is_active: bool = True
    last_accessed: str | None = None


class McpServerListOut(BaseModel):
    servers: list[McpServerOut]


class CollectionOut(BaseModel):
    run_id: str
    status: str
    location: str
    industry: str
    items: int
    new: int = Field(description="New prospects added to the CRM (prospect_identified sent)")
    existing: int = Field(description="Already in the CRM (same Google place id)")
    duplicates: int
    skipped: int
    enrichment_not_available: list[str] = Field(default_factory=list[str])


class ClickUpSyncOut(BaseModel):
    account_id: str
    task_id: str
    url: str | None = None
    action: str = Field(description="created, adopted, updated or unchanged")
    list_id: str
    reminder_task_id: str | None = None
