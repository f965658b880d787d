"""The orchestration MCP server (`switchboard-orchestration`): workflows, runs, events,
dead letters, platforms and the MCP server registry, for the operations side of the
business.

Built like the CRM server (see crm.py): `build_orchestration_server()` serves the
configured store and tenant over stdio, or the HTTP app's shared `AppState`. `platforms`
replaces how tools reach n8n, Make, ClickUp and Apify (tests pass in-process fakes).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from functools import cache, partial

from mcp.server.mcpserver.tools import Tool

from servers.mcp.common.roles import ToolVisibilityMiddleware
from servers.mcp.common.state import AppState, borrowed, lifespan_from, open_local_state
from servers.mcp.common.tools import access_map, build_tools
from servers.mcp.orchestration_tools_collect import COLLECT_TOOLS
from servers.mcp.orchestration_tools_common import OrchestrationServer, PlatformAccess
from servers.mcp.orchestration_tools_platforms import PLATFORM_TOOLS
from servers.mcp.orchestration_tools_runs import RUN_TOOLS
from servers.mcp.orchestration_tools_workflows import WORKFLOW_TOOLS
from shared.config import Settings, get_settings

__all__ = ["SERVER_NAME", "PlatformAccess", "build_orchestration_server"]

SERVER_NAME = "switchboard-orchestration"
VERSION = "0.1.0"
INSTRUCTIONS = (
    "Switchboard orchestration: the workflows that react to customer lifecycle events and "
    "the platforms they run on (internal engine, n8n, Make, ClickUp, Apify). See workflows "
    "with list_workflows/get_workflow, runs with list_executions/get_execution, platforms "
    "with platform_status. trigger_workflow with dry_run: true shows what a run would do "
    "without doing it. Bulk, destructive or paid actions (replaying many events, pausing a "
    "workflow, collect_prospects) need confirm: true: ask the user first."
)


@cache
def _orchestration_tools() -> list[Tool]:
    return build_tools([*WORKFLOW_TOOLS, *RUN_TOOLS, *PLATFORM_TOOLS, *COLLECT_TOOLS])


def build_orchestration_server(
    *,
    settings: Settings | None = None,
    state: AppState | None = None,
    platforms: PlatformAccess | None = None,
) -> OrchestrationServer:
    """The orchestration server. With `state`, it serves that state (owned by the caller);
    without, its lifespan opens the configured store and tenant (stdio)."""
    provide: Callable[[], AbstractAsyncContextManager[AppState]]
    if state is not None:
        provide = partial(borrowed, state)
    else:
        provide = partial(open_local_state, settings or get_settings())
    tools = _orchestration_tools()
    server = OrchestrationServer(
        SERVER_NAME,
        title="Switchboard Orchestration",
        version=VERSION,
        instructions=INSTRUCTIONS,
        tools=list(tools),
        lifespan=lifespan_from(provide),
        middleware=[ToolVisibilityMiddleware(access_map(tools))],
    )
    if platforms is not None:
        server.platforms = platforms
    return server
