"""Our own MCP servers for a worker's `call_mcp_server` steps, called in-process by name.

A workflow step calls `crm` or `analysis` (rows in `mcp_servers` with no endpoint_url) as
the tenant's `worker` operator: the same tools, roles and audit as any other caller, with
no network hop. One server state per tenant, so repositories are built once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack

from orchestration.runtime.mcp_caller import LocalServerFactory
from servers.mcp.analysis import build_analysis_server
from servers.mcp.common.caller import CallerContext, Role, StaticCallerResolver
from servers.mcp.common.state import AppState, configured_repositories
from servers.mcp.crm import build_crm_server
from shared.config import Settings
from shared.db.database import Database

__all__ = ["local_mcp_servers"]


def local_mcp_servers(
    settings: Settings, db: Database, exit_stack: AsyncExitStack
) -> dict[str, LocalServerFactory]:
    """`{"crm": factory, "analysis": factory}`; repositories close with `exit_stack`."""
    repositories = configured_repositories(settings, db, exit_stack)
    states: dict[uuid.UUID, AppState] = {}

    def state_for(tenant_id: uuid.UUID) -> AppState:
        state = states.get(tenant_id)
        if state is None:
            caller = CallerContext(
                tenant_id=tenant_id,
                role=Role.OPERATOR,
                read_only=settings.read_only,
                actor="worker",
            )
            state = AppState(
                settings=settings,
                database=db,
                resolver=StaticCallerResolver(caller),
                repository_factory=repositories,
            )
            states[tenant_id] = state
        return state

    def factory(build: Callable[..., object]) -> LocalServerFactory:
        return lambda tenant_id: build(state=state_for(tenant_id))

    return {"crm": factory(build_crm_server), "analysis": factory(build_analysis_server)}
