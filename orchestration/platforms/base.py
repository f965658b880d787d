"""The spec's ExternalTool contract and the values that cross it.

An adapter is built from an injected `httpx.AsyncClient` and its decrypted
`ToolConfig`; it never reads the environment. `execute_workflow` runs what a workflow
definition names on that platform and answers a `WorkflowResult` whose
`execution_fields()` are exactly the `workflow_executions` columns it fills.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "ConnectionStatus",
    "ExecutionContext",
    "ExternalTool",
    "PlatformDefinition",
    "ResultStatus",
    "ToolCapability",
    "ToolStatus",
    "WorkflowResult",
    "platform_ref",
]


class ToolCapability(StrEnum):
    RUN_WORKFLOW = "run_workflow"  # run a workflow/scenario the platform hosts
    MANAGE_WORKFLOWS = "manage_workflows"  # create/update/activate through its API
    READ_EXECUTIONS = "read_executions"  # results can be read back after the run
    WEBHOOK_TRIGGER = "webhook_trigger"  # runs through an inbound webhook
    TASKS = "tasks"  # create/update/move tasks
    CUSTOM_FIELDS = "custom_fields"
    REMINDERS = "reminders"
    OUTBOUND_WEBHOOKS = "outbound_webhooks"  # the platform calls us back on changes
    BUSINESS_COLLECTION = "business_collection"  # Google Maps data collection


class ConnectionStatus(StrEnum):
    """`external_tool_configs.connection_status` values."""

    ACTIVE = "active"
    DEGRADED = "degraded"  # answering, but slowly, rate-limited or with the circuit half open
    DOWN = "down"
    UNAUTHORIZED = "unauthorized"  # reachable, credentials refused: a human must act


class ResultStatus(StrEnum):
    """`workflow_executions.status` values an adapter can report."""

    COMPLETED = "completed"
    FAILED = "failed"
    RUNNING = "running"  # accepted, still running on the platform (read it back later)


@dataclass(frozen=True)
class ExecutionContext:
    """What an execution hands an adapter. `idempotency_key` is stable across retries."""

    tenant_id: uuid.UUID
    idempotency_key: str
    payload: Mapping[str, Any] = field(default_factory=dict[str, Any])
    execution_id: uuid.UUID | None = None
    event_type: str | None = None
    customer_id: str | None = None


@dataclass(frozen=True)
class WorkflowResult:
    platform: str
    status: ResultStatus
    output: dict[str, Any] = field(default_factory=dict[str, Any])
    external_execution_id: str | None = None  # n8n execution id, Make executionId, Apify run id
    error: dict[str, Any] | None = None
    api_calls: int = 0
    duration_ms: int | None = None

    def execution_fields(self) -> dict[str, Any]:
        """Column values for the `workflow_executions` row this result completes."""
        result: dict[str, Any] = {"output": self.output}
        if self.external_execution_id is not None:
            result["external_execution_id"] = self.external_execution_id
        return {
            "execution_platform": self.platform,
            "status": self.status.value,
            "execution_result": result,
            "error_details": self.error,
            "external_api_calls": self.api_calls,
            "execution_time_ms": self.duration_ms,
        }


@dataclass(frozen=True)
class ToolStatus:
    name: str
    connection_status: ConnectionStatus
    checked_at: datetime
    latency_ms: int | None = None
    circuit_state: str = "closed"
    detail: str | None = None  # safe text: what failed and what to do

    def health_check_results(self) -> dict[str, Any]:
        """The JSON stored in `external_tool_configs.health_check_results`."""
        return {
            "connection_status": self.connection_status.value,
            "checked_at": self.checked_at.isoformat(),
            "latency_ms": self.latency_ms,
            "circuit_state": self.circuit_state,
            "detail": self.detail,
        }


@runtime_checkable
class PlatformDefinition(Protocol):
    """What an adapter needs from a workflow definition: its name and platform references,
    e.g. `{"n8n": {"workflow_id": "...", "webhook_path": "..."}}` or
    `{"make": {"scenario_id": 42}}`. The engine's definition model satisfies this."""

    @property
    def name(self) -> str: ...

    @property
    def platform_refs(self) -> Mapping[str, Any] | None: ...


def platform_ref(definition: PlatformDefinition, platform: str) -> Mapping[str, Any]:
    """The definition's references for `platform`; empty when it has none."""
    refs = definition.platform_refs or {}
    value = refs.get(platform)
    return value if isinstance(value, Mapping) else {}  # pyright: ignore[reportUnknownVariableType]


class ExternalTool(Protocol):
    """The spec's ExternalTool. Implementations: N8nAdapter, MakeAdapter, ClickUpAdapter,
    ApifyAdapter.

    `execute_workflow` raises a PlatformError subclass when the platform could not run
    the workflow (down, circuit open, rate-limited, credentials refused: `retryable`
    says whether the router may fail over or retry) and answers FAILED only when the
    platform ran it and the workflow itself failed. Never a bare httpx error."""

    name: str
    capabilities: frozenset[ToolCapability]

    async def execute_workflow(
        self, definition: PlatformDefinition, context: ExecutionContext
    ) -> WorkflowResult: ...

    async def get_status(self) -> ToolStatus: ...

    async def validate_connection(self) -> bool: ...
