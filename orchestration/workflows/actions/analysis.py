"""Analysis actions: analyze (the analysis engine) and call_mcp_server (a registered tool)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from orchestration.workflows.actions.base import (
    ActionFields,
    StepContext,
    lookup_name,
    register,
    require,
)
from orchestration.workflows.errors import StepFailedError

__all__ = ["AnalyzeFields", "McpFields"]


class AnalyzeFields(ActionFields):
    kind: str = Field(pattern=r"^[a-z][a-z0-9_]{0,62}$")  # qualify_lead, sentiment, churn, ...
    input: dict[str, Any] | str | None = None  # default: the event's data


class McpFields(ActionFields):
    server: str = Field(min_length=1, max_length=200)
    tool: str | None = None  # None: the server's default analysis tool
    prompt: str | None = None
    arguments: dict[str, Any] | None = None


@register("analyze", AnalyzeFields, side_effecting=False, summary="run the analysis engine")
async def analyze(ctx: StepContext, fields: AnalyzeFields) -> dict[str, Any]:
    analyzer = require(ctx.services.analyzer, "analysis engine", ctx.step_name)
    data = ctx.event.event_data if fields.input is None else lookup_name(ctx, fields.input, "input")
    if not isinstance(data, dict):
        raise StepFailedError(f"step '{ctx.step_name}': input must be an object of fields")
    return await analyzer.analyze(fields.kind, dict(data))  # pyright: ignore[reportUnknownArgumentType]


@register("call_mcp_server", McpFields, side_effecting=True, summary="call a tool on an MCP server")
async def call_mcp_server(ctx: StepContext, fields: McpFields) -> dict[str, Any]:
    mcp = require(ctx.services.mcp, "MCP client", ctx.step_name)
    arguments: dict[str, Any] = dict(fields.arguments or {})
    if fields.prompt is not None:
        arguments.setdefault("prompt", fields.prompt)
    arguments.setdefault("context", {"event": ctx.event.event_data, "steps": ctx.outputs})
    ctx.count_api_call()
    return await mcp.call_tool(
        ctx.tenant_id, fields.server, fields.tool, arguments, idempotency_key=ctx.idempotency_key
    )
