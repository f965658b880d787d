"""The orchestration server's platform tools: health and usage of n8n, Make, ClickUp and
Apify, a live connection check, storing a platform's endpoint and credentials (encrypted,
never echoed), and the registry of MCP servers that workflow steps call into.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, cast

import sqlalchemy as sa
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from orchestration.platforms.config_store import (
    KNOWN_TOOLS,
    ToolConfig,
    list_tool_configs,
    load_tool_config,
    save_tool_config,
)
from orchestration.platforms.tools import TenantTools, build_adapter, load_tenant_tools
from orchestration.platforms.usage import flush_counter, record_health
from servers.mcp.common.errors import tool_errors
from servers.mcp.common.roles import ToolAccess
from servers.mcp.common.state import AppState
from servers.mcp.common.tools import READ_ONLY, ToolSpec
from servers.mcp.orchestration_models import (
    ConnectionCheckOut,
    McpServerListOut,
    McpServerOut,
    PlatformHealthOut,
    PlatformStatusOut,
    ToolConfiguredOut,
)
from servers.mcp.orchestration_tools_common import cipher_of, platform_access, tenant_of
from shared.db.orchestration_tables import external_tool_configs, mcp_servers
from shared.db.types import utcnow
from shared.errors import NotFoundError, SwitchboardError

__all__ = ["PLATFORM_TOOLS"]

ToolName = Literal["n8n", "make", "clickup", "apify"]
READ = READ_ONLY
MAX_CREDENTIALS = 20


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def platform_status(ctx: Context[AppState, Any]) -> PlatformStatusOut:
    """Every configured platform's health (last check: active, degraded, down, unauthorized
    and why), circuit breaker state, rate-limit headroom now, and usage this month (API
    calls, errors, last call). Makes no calls to the platforms: check_connection does."""
    state, caller = await tenant_of(ctx)
    access = platform_access(ctx)
    t = external_tool_configs
    with tool_errors():
        async with state.database.engine.connect() as conn:
            rows = {
                str(r["tool_name"]): r
                for r in (await conn.execute(sa.select(t).where(t.c.tenant_id == caller.tenant_id)))
                .mappings()
                .all()
            }
    tools = TenantTools()
    credential_names: dict[str, list[str]] = {}
    if rows:
        try:
            cipher = cipher_of(state)
            for config in await list_tool_configs(state.database, cipher, caller.tenant_id):
                credential_names[config.tool_name] = sorted(config.credentials)
            async with access.client_factory() as client:
                tools = await load_tenant_tools(
                    state.database, cipher, caller.tenant_id, client, registry=access.registry
                )
        except (ToolError, SwitchboardError) as exc:  # no key: health from the table only
            tools = TenantTools(unusable={name: str(exc) for name in rows})
    platforms: list[PlatformHealthOut] = []
    for name, row in sorted(rows.items()):
        health: dict[str, Any] = dict(row["health_check_results"] or {})
        adapter = tools.adapters.get(name)
        breaker = adapter.http.breaker if adapter is not None else None
        platforms.append(
            PlatformHealthOut(
                tool=name,
                endpoint=row["api_endpoint"],
                connection_status=row["connection_status"],
                last_health_check=_iso(row["last_health_check"]),
                health_detail=tools.unusable.get(name) or health.get("detail"),
                circuit_state=breaker.state.value if breaker is not None else "unknown",
                seconds_until_trial=breaker.seconds_until_trial() if breaker is not None else 0.0,
                rate_limit_headroom=(
                    round(adapter.http.limiter.headroom(), 2) if adapter is not None else None
                ),
                monthly_api_calls=row["monthly_api_calls"] or 0,
                error_count=row["error_count"] or 0,
                last_api_call=_iso(row["last_api_call"]),
                credential_names=credential_names.get(name, []),
            )
        )
    return PlatformStatusOut(
        platforms=platforms, not_configured=[n for n in KNOWN_TOOLS if n not in rows]
    )


async def check_connection(
    ctx: Context[AppState, Any],
    tool: Annotated[ToolName, Field(description="n8n, make, clickup or apify")],
) -> ConnectionCheckOut:
    """Check one platform's connection now with one cheap authenticated call, and store the
    result as its health. Says what failed and what to do (e.g. refused credentials:
    configure_tool with new ones)."""
    state, caller = await tenant_of(ctx)
    access = platform_access(ctx)
    cipher = cipher_of(state)
    with tool_errors(not_found_hint="configure_tool stores its endpoint and credentials"):
        config = await load_tool_config(state.database, cipher, caller.tenant_id, tool)
    async with access.client_factory() as client:
        try:
            adapter = build_adapter(client, config, access.registry)
        except SwitchboardError as exc:
            return ConnectionCheckOut(
                tool=tool, valid=False, connection_status="misconfigured", detail=str(exc)
            )
        status = await adapter.get_status()
        with tool_errors():
            await record_health(state.database, caller.tenant_id, tool, status)
            await flush_counter(state.database, caller.tenant_id, tool, adapter.http.counter)
    return ConnectionCheckOut(
        tool=tool,
        valid=status.detail is None,
        connection_status=status.connection_status.value,
        latency_ms=status.latency_ms,
        circuit_state=status.circuit_state,
        detail=status.detail,
    )


def _credentials(raw: dict[str, Any] | None) -> dict[str, str] | None:
    """String credentials; errors name the field, never its value."""
    if raw is None:
        return None
    checked: dict[str, str] = {}
    for key, value in raw.items():
        if not key.strip() or len(key) > 100:
            raise ToolError("credential names must be 1-100 characters, e.g. api_key")
        if not isinstance(value, str) or not value:
            raise ToolError(f"credential '{key}' must be a non-empty string")
        checked[key.strip()] = value
    return checked


async def configure_tool(
    ctx: Context[AppState, Any],
    tool: Annotated[Literal["n8n", "make", "clickup", "apify", "generic"], Field()],
    endpoint: Annotated[
        str | None,
        Field(max_length=500, description="API base URL, http(s); kept when omitted"),
    ] = None,
    credentials: Annotated[
        dict[str, Any] | None,
        Field(
            max_length=MAX_CREDENTIALS,
            description="e.g. {api_key: ...}; merged into what is stored, encrypted, never shown",
        ),
    ] = None,
    settings: Annotated[
        dict[str, Any] | None,
        Field(description="Platform options, e.g. ClickUp {lists: {...}}; merged"),
    ] = None,
    rate_limit_per_minute: Annotated[
        int | None, Field(ge=1, le=100_000, description="Requests per minute it may receive")
    ] = None,
) -> ToolConfiguredOut:
    """Store a platform's endpoint, credentials and settings for this workspace. Credentials
    are encrypted before they are stored and are never returned: the answer lists their
    names only. Given credentials and settings are merged into what is stored. Next:
    check_connection to verify them."""
    state, caller = await tenant_of(ctx)
    given = _credentials(credentials)
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise ToolError("endpoint must be an http(s) URL, e.g. https://n8n.example.com")
    cipher = cipher_of(state)
    with tool_errors():
        try:
            current: ToolConfig | None = await load_tool_config(
                state.database, cipher, caller.tenant_id, tool
            )
        except NotFoundError:
            current = None
        if current is None and endpoint is None and tool != "generic":
            raise ToolError(f"{tool} is not configured yet: give its endpoint URL too")
        merged = {**(dict(current.credentials) if current else {}), **(given or {})}
        limits = dict(current.rate_limits) if current else {}
        if rate_limit_per_minute is not None:
            limits["requests_per_minute"] = rate_limit_per_minute
        merged_settings = {**(current.settings if current else {}), **(settings or {})}
        await save_tool_config(
            state.database,
            cipher,
            tenant_id=caller.tenant_id,
            tool_name=tool,
            api_endpoint=endpoint or (current.api_endpoint if current else None),
            credentials=merged,
            authentication_type=current.authentication_type if current else "api_key",
            rate_limits=limits,
            supported_operations=current.supported_operations if current else None,
            webhook_endpoints=current.webhook_endpoints if current else None,
            settings=merged_settings,
            tool_version=current.tool_version if current else None,
        )
    return ToolConfiguredOut(
        tool=tool,
        created=current is None,
        endpoint=endpoint or (current.api_endpoint if current else None),
        credential_names=sorted(merged),
        settings_keys=sorted(merged_settings),
        next_step=f"check_connection with tool '{tool}' verifies the stored credentials"
        if tool != "generic"
        else "webhook senders can now sign with the stored secret",
    )


def _server_out(row: sa.RowMapping) -> McpServerOut:
    return McpServerOut(
        id=str(row["id"]),
        server_name=row["server_name"],
        server_type=row["server_type"],
        endpoint_url=row["endpoint_url"],
        available_tools=[str(x) for x in cast("list[Any]", row["available_tools"] or [])],
        is_active=row["is_active"] is not False,
        last_accessed=_iso(row["last_accessed"]),
    )


async def register_mcp_server(
    ctx: Context[AppState, Any],
    server_name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")],
    endpoint_url: Annotated[
        str | None,
        Field(max_length=500, description="Streamable-HTTP URL; omit for our own servers"),
    ] = None,
    server_type: Annotated[Literal["switchboard", "supabase", "n8n", "custom"], Field()] = "custom",
    available_tools: Annotated[
        list[str] | None, Field(max_length=200, description="Tools steps may call (all: omit)")
    ] = None,
    rate_limit_per_minute: Annotated[int | None, Field(ge=1, le=100_000)] = None,
    is_active: bool = True,
) -> McpServerOut:
    """Register (or update) an MCP server that workflow steps may call with the call_mcp_tool
    action, by name. Our own servers (switchboard-crm, switchboard-analysis) need no
    endpoint. Registering the same name again replaces its entry."""
    if endpoint_url is not None and not endpoint_url.startswith(("http://", "https://")):
        raise ToolError("endpoint_url must be an http(s) URL of a streamable-HTTP MCP server")
    state, caller = await tenant_of(ctx)
    t = mcp_servers
    values: dict[str, Any] = {
        "server_type": server_type,
        "endpoint_url": endpoint_url,
        "available_tools": available_tools,
        "supported_protocols": ["streamable-http"] if endpoint_url else ["in-process"],
        "rate_limits": (
            {"requests_per_minute": rate_limit_per_minute} if rate_limit_per_minute else None
        ),
        "is_active": is_active,
        "updated_at": utcnow(),
    }
    with tool_errors():
        async with state.database.transaction() as conn:
            existing = await conn.scalar(
                sa.select(t.c.id).where(
                    t.c.tenant_id == caller.tenant_id, t.c.server_name == server_name
                )
            )
            if existing is None:
                existing = uuid.uuid4()
                await conn.execute(
                    sa.insert(t).values(
                        id=existing,
                        tenant_id=caller.tenant_id,
                        server_name=server_name,
                        created_at=utcnow(),
                        **values,
                    )
                )
            else:
                await conn.execute(sa.update(t).where(t.c.id == existing).values(**values))
            row = (await conn.execute(sa.select(t).where(t.c.id == existing))).mappings().one()
    return _server_out(row)


async def list_mcp_servers(ctx: Context[AppState, Any]) -> McpServerListOut:
    """The MCP servers registered for this workspace's workflows: name, type, endpoint, the
    tools steps may call, active or not, last use."""
    state, caller = await tenant_of(ctx)
    t = mcp_servers
    with tool_errors():
        async with state.database.engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        sa.select(t)
                        .where(t.c.tenant_id == caller.tenant_id)
                        .order_by(t.c.server_name)
                    )
                )
                .mappings()
                .all()
            )
    return McpServerListOut(servers=[_server_out(r) for r in rows])


ADMIN_WRITE = ToolAnnotations(  # replaces the stored entry; the same call again is a no-op
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)

PLATFORM_TOOLS = [
    ToolSpec(fn=platform_status, title="Platform health, circuits, limits and usage",
             access=ToolAccess.READ, annotations=READ),
    ToolSpec(fn=list_mcp_servers, title="List registered MCP servers", access=ToolAccess.READ,
             annotations=READ),
    ToolSpec(fn=check_connection, title="Check a platform connection now",
             access=ToolAccess.WRITE,
             annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                         idempotent_hint=True, open_world_hint=True)),
    ToolSpec(fn=configure_tool, title="Configure a platform (credentials encrypted)",
             access=ToolAccess.ADMIN, annotations=ADMIN_WRITE),
    ToolSpec(fn=register_mcp_server, title="Register an MCP server for workflows",
             access=ToolAccess.ADMIN, annotations=ADMIN_WRITE),
]  # fmt: skip
