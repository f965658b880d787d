"""What step actions need from the rest of the system, as narrow protocols.

Each protocol is the smallest surface an action calls. The concrete services (the CRM
repository, the analysis engine, the ClickUp/Apify adapters, the MCP client) are built
elsewhere and wired into `Services` by whoever starts a worker; a workflow whose step needs
a service that is not wired fails that step with a message saying so.

Every side-effecting call receives `idempotency_key`: the same key for every attempt of the
same step of the same execution, so a retried call after a crash creates nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx

__all__ = [
    "Analyzer",
    "ApifyRunner",
    "ClickUpTasks",
    "EmailFinder",
    "McpToolCaller",
    "Services",
    "WorkflowCrm",
]


class WorkflowCrm(Protocol):
    """CRM reads and writes for one tenant, by table name and plain dicts."""

    async def query(
        self, table: str, *, fields: list[str] | None, filter: str | None, limit: int
    ) -> list[dict[str, Any]]: ...

    async def update(
        self, table: str, record_id: str | None, data: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]: ...

    async def create_campaign(
        self, campaign: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]: ...

    async def create_activity(
        self, activity: dict[str, Any], due_at: datetime | None, *, idempotency_key: str
    ) -> dict[str, Any]: ...


class Analyzer(Protocol):
    """The analysis engine: `kind` is e.g. qualify_lead, sentiment, churn, ltv."""

    async def analyze(self, kind: str, data: dict[str, Any]) -> dict[str, Any]: ...


class ClickUpTasks(Protocol):
    async def create_task(
        self, task: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]: ...


class ApifyRunner(Protocol):
    async def run_actor(
        self, actor: str, run_input: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]: ...


class EmailFinder(Protocol):
    async def find_email(
        self, query: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]: ...


class McpToolCaller(Protocol):
    """Calls a tool on a server registered in mcp_servers (ours in-process, or remote),
    honouring the row's permissions and rate limits."""

    async def call_tool(
        self,
        tenant_id: Any,
        server: str,
        tool: str | None,
        arguments: dict[str, Any],
        *,
        idempotency_key: str,
    ) -> dict[str, Any]: ...


@dataclass
class Services:
    """The injected collaborators; None means not configured in this process."""

    crm: WorkflowCrm | None = None
    analyzer: Analyzer | None = None
    clickup: ClickUpTasks | None = None
    apify: ApifyRunner | None = None
    email_finder: EmailFinder | None = None
    mcp: McpToolCaller | None = None
    http: httpx.AsyncClient | None = None
