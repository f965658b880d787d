"""`switchboard mcp ...`: run an MCP server over stdio, for Claude Desktop, Claude Code and
other local MCP clients. stdout carries only the protocol; logs go to stderr."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from servers.cli.common import open_database, run
from shared.config import CrmSource, Settings, get_settings
from shared.gc_tuning import freeze_startup_objects
from shared.tenants import resolve_tenant

if TYPE_CHECKING:  # the SDK loads only when a server runs
    from mcp.server.mcpserver import MCPServer

app = typer.Typer(help="MCP servers over stdio (for Claude Desktop and other clients).")


def _effective_settings(tenant: str | None, read_only: bool) -> Settings:
    settings = get_settings()
    updates: dict[str, object] = {}
    if tenant is not None:
        updates["tenant"] = tenant
    if read_only:
        updates["read_only"] = True
    return settings.model_copy(update=updates) if updates else settings


async def _check_supabase(settings: Settings) -> None:
    """One authenticated read, so a missing, refused or unreachable key is reported now."""
    from shared.crm.supabase_client import (
        close_supabase_client,
        create_supabase_client_from_settings,
        resolve_rest_tenant,
    )

    client = await create_supabase_client_from_settings(settings)
    try:
        await resolve_rest_tenant(client, settings.tenant)
    finally:
        await close_supabase_client(client)


def _check_ready(settings: Settings) -> None:
    """Fail with one readable line (store unreachable, unmigrated, unknown tenant) before
    the client's handshake, instead of a traceback inside the protocol loop."""

    async def main() -> None:
        async with open_database(settings) as db:
            await resolve_tenant(db, settings.tenant)
        if settings.crm_source is CrmSource.SUPABASE:
            await _check_supabase(settings)

    run(main)


TenantOption = Annotated[
    str | None,
    typer.Option(help="Tenant name or id to serve (default: SWITCHBOARD_TENANT, or demo)"),
]
ReadOnlyOption = Annotated[
    bool, typer.Option("--read-only", help="Hide and refuse every write tool")
]


def _serve(
    build: Callable[[Settings], MCPServer[Any]], tenant: str | None, read_only: bool
) -> None:
    settings = _effective_settings(tenant, read_only)
    _check_ready(settings)
    server = build(settings)
    freeze_startup_objects()  # a long-lived process: see shared/gc_tuning.py
    server.run("stdio")


@app.command("crm")
def crm_command(tenant: TenantOption = None, read_only: ReadOnlyOption = False) -> None:
    """Serve the CRM data tools (search, accounts, queries, pipeline, writes) over stdio."""
    from servers.mcp.crm import build_crm_server  # the SDK loads only when a server runs

    _serve(lambda settings: build_crm_server(settings=settings), tenant, read_only)


@app.command("analysis")
def analysis_command(tenant: TenantOption = None, read_only: ReadOnlyOption = False) -> None:
    """Serve the analysis tools (lead qualification, sentiment, growth, competitors) over stdio."""
    from servers.mcp.analysis import build_analysis_server

    _serve(lambda settings: build_analysis_server(settings=settings), tenant, read_only)


@app.command("orchestration")
def orchestration_command(tenant: TenantOption = None, read_only: ReadOnlyOption = False) -> None:
    """Serve the orchestration tools (workflows, runs, events, platforms) over stdio."""
    from servers.mcp.orchestration import build_orchestration_server

    _serve(lambda settings: build_orchestration_server(settings=settings), tenant, read_only)


@app.command("roles")
def roles_command() -> None:
    """Print which role may call which tool (the table README's security section shows)."""
    from servers.mcp.access_table import roles_markdown

    typer.echo(roles_markdown())
