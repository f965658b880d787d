"""The step engine's `McpToolCaller`: tools on servers registered in `mcp_servers`.

A `call_mcp_server` step names a server row of its tenant (`server_name`, active). Our own
servers (crm, analysis) are called in-process, by name, through a factory the process
starting the worker hands in (orchestration never imports servers/); any other row is
called at its `endpoint_url` over streamable HTTP with the MCP SDK `Client`.

Each row is honoured as written:
- `access_permissions`: `{"allowed_tools": ["tool", ...]}` (or `["*"]`); without it, the
  row's `available_tools`; with neither, no tool may be called. `default_tool` names the
  tool a step without `tool` calls.
- `rate_limits`: `{"requests_per_minute": N}` (or `requests_per_second`, `burst`), one
  token bucket per (tenant, server) in this process; a call that would wait longer than
  `max_wait_s` is retried later by the queue instead of holding the worker.
- `last_accessed` is stamped after every call.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from mcp import Client

from orchestration.platforms.resilience import TokenBucket, limiter_from_rate_limits
from orchestration.workflows.errors import StepFailedError, TransientStepError
from shared.db.database import Database
from shared.db.orchestration_tables import mcp_servers
from shared.db.types import utcnow

__all__ = ["LocalServerFactory", "McpServerRow", "RegisteredMcpCaller", "allowed_tools"]

LocalServerFactory = Callable[[uuid.UUID], Any]
"""Builds one of our MCP servers (an `MCPServer`) serving the given tenant."""

DEFAULT_PER_MINUTE = 60.0


@dataclass(frozen=True)
class McpServerRow:
    id: uuid.UUID
    name: str
    server_type: str | None
    endpoint_url: str | None
    available_tools: list[str]
    access_permissions: dict[str, Any]
    rate_limits: dict[str, Any]


def allowed_tools(row: McpServerRow) -> set[str] | None:
    """The tools a workflow may call on this server; None means every tool ("*")."""
    permitted: Any = row.access_permissions.get("allowed_tools")
    if permitted is None:
        permitted = row.available_tools
    names: set[str] = (
        {str(t) for t in cast(list[Any], permitted)} if isinstance(permitted, list) else set()
    )
    return None if "*" in names else names


def _text_of(result: Any) -> str:
    blocks: list[Any] = list(getattr(result, "content", None) or [])
    parts = [getattr(block, "text", None) for block in blocks]
    return "\n".join(p for p in parts if isinstance(p, str))


def _accepted(arguments: dict[str, Any], tool: Any) -> dict[str, Any]:
    """The step engine adds `context` (event and step outputs) to every call; a tool that
    does not declare it would refuse the whole call, so it is dropped for that tool."""
    schema: Any = getattr(tool, "input_schema", None)
    properties: Any = None
    if isinstance(schema, dict):
        properties = cast(dict[str, Any], schema).get("properties")
    if "context" in arguments and isinstance(properties, dict) and "context" not in properties:
        return {k: v for k, v in arguments.items() if k != "context"}
    return arguments


class RegisteredMcpCaller:
    """Implements orchestration.workflows.services.McpToolCaller."""

    def __init__(
        self,
        db: Database,
        *,
        local_servers: Mapping[str, LocalServerFactory] | None = None,
        max_wait_s: float = 5.0,
        read_timeout_s: float = 60.0,
    ) -> None:
        self.db = db
        self.local_servers = dict(local_servers or {})
        self.max_wait_s = max_wait_s
        self.read_timeout_s = read_timeout_s
        self._limiters: dict[tuple[uuid.UUID, str], TokenBucket] = {}

    async def call_tool(
        self,
        tenant_id: Any,
        server: str,
        tool: str | None,
        arguments: dict[str, Any],
        *,
        idempotency_key: str,
    ) -> dict[str, Any]:
        tenant = tenant_id if isinstance(tenant_id, uuid.UUID) else uuid.UUID(str(tenant_id))
        row = await self._row(tenant, server)
        name = tool or row.access_permissions.get("default_tool")
        if not isinstance(name, str) or not name:
            raise StepFailedError(
                f"MCP server '{server}' has no default_tool in its access_permissions; "
                "name the tool in the step"
            )
        allowed = allowed_tools(row)
        if allowed is not None and name not in allowed:
            shown = ", ".join(sorted(allowed)) or "none"
            raise StepFailedError(
                f"tool '{name}' on MCP server '{server}' is not in its access_permissions "
                f"(allowed: {shown}); add it to allowed_tools to let workflows call it"
            )
        await self._take_token(tenant, row)
        target = self._target(tenant, row)
        result = await self._call(target, server, name, arguments)
        await self._touch(row.id)
        if getattr(result, "is_error", False):
            raise StepFailedError(f"MCP tool {server}/{name} failed: {_text_of(result)[:500]}")
        structured = getattr(result, "structured_content", None)
        if isinstance(structured, dict):
            return dict(cast(dict[str, Any], structured))
        text = _text_of(result)
        try:
            parsed: Any = json.loads(text)
        except ValueError:
            return {"text": text}
        return cast(dict[str, Any], parsed) if isinstance(parsed, dict) else {"result": parsed}

    async def _row(self, tenant: uuid.UUID, server: str) -> McpServerRow:
        t = mcp_servers
        async with self.db.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        sa.select(t).where(t.c.tenant_id == tenant, t.c.server_name == server)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise StepFailedError(
                f"no MCP server named '{server}' is registered for this tenant (mcp_servers)"
            )
        if row["is_active"] is False:
            raise StepFailedError(f"MCP server '{server}' is registered but not active")
        return McpServerRow(
            id=row["id"],
            name=server,
            server_type=row["server_type"],
            endpoint_url=row["endpoint_url"],
            available_tools=[str(x) for x in cast(list[Any], row["available_tools"] or [])],
            access_permissions=dict(row["access_permissions"] or {}),
            rate_limits=dict(row["rate_limits"] or {}),
        )

    async def _take_token(self, tenant: uuid.UUID, row: McpServerRow) -> None:
        key = (tenant, row.name)
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = limiter_from_rate_limits(
                row.rate_limits, default_per_minute=DEFAULT_PER_MINUTE
            )
            self._limiters[key] = limiter
        wait = limiter.wait_time()
        if wait > self.max_wait_s:
            raise TransientStepError(
                f"MCP server '{row.name}' rate limit reached; next call allowed in {wait:.0f}s"
            )
        await limiter.acquire()

    def _target(self, tenant: uuid.UUID, row: McpServerRow) -> Any:
        factory = self.local_servers.get(row.name)
        if factory is not None and not row.endpoint_url:
            return factory(tenant)
        if not row.endpoint_url:
            raise StepFailedError(
                f"MCP server '{row.name}' has no endpoint_url and is not one of ours "
                f"({', '.join(sorted(self.local_servers)) or 'none in this worker'})"
            )
        if not row.endpoint_url.startswith(("http://", "https://")):
            raise StepFailedError(
                f"MCP server '{row.name}' endpoint_url must be an http(s) URL (streamable HTTP)"
            )
        return row.endpoint_url

    async def _call(self, target: Any, server: str, tool: str, arguments: dict[str, Any]) -> Any:
        try:
            async with Client(target, read_timeout_seconds=self.read_timeout_s) as client:
                listed = await client.list_tools()
                offered = {t.name: t for t in listed.tools}
                if tool not in offered:
                    raise StepFailedError(
                        f"MCP server '{server}' has no tool '{tool}'; it offers "
                        + (", ".join(sorted(offered)) or "none")
                    )
                return await client.call_tool(tool, _accepted(arguments, offered[tool]))
        except StepFailedError:
            raise
        # The SDK reports a refused connection or a broken stream as nested exception groups
        # of its own (httpx2-based) errors: all mean "the server could not be reached now".
        except Exception as exc:
            raise TransientStepError(
                f"MCP server '{server}' could not be called ({type(exc).__name__}); "
                "it will be retried"
            ) from None

    async def _touch(self, row_id: uuid.UUID) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                sa.update(mcp_servers)
                .where(mcp_servers.c.id == row_id)
                .values(last_accessed=utcnow())
            )
