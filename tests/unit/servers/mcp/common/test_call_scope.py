"""Inside a GuardedTool call, `app_state` and `current_caller` answer what the guard resolved
(one resolution per call); any other Context (a nested call's) still resolves its own."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from mcp import Client
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context

from servers.mcp.common.caller import CallerContext, Role
from servers.mcp.common.roles import ToolAccess
from servers.mcp.common.server import SwitchboardServer
from servers.mcp.common.state import AppState, borrowed, lifespan_from
from servers.mcp.common.tools import READ_ONLY, ToolSpec, app_state, build_tools, current_caller
from tests.unit.servers.mcp.crm_world import CrmWorld


@dataclass
class CountingResolver:
    """A new caller object per resolution, so answers show which resolution they came from."""

    tenant_id: uuid.UUID
    resolved: list[CallerContext] = field(default_factory=list[CallerContext])

    async def __call__(self, request: ServerRequestContext[Any, Any]) -> CallerContext:
        caller = CallerContext(
            tenant_id=self.tenant_id, role=Role.VIEWER, actor=f"r{len(self.resolved)}"
        )
        self.resolved.append(caller)
        return caller


async def test_a_tool_sees_the_guards_caller_and_a_nested_context_resolves_its_own(
    world: CrmWorld,
) -> None:
    resolver = CountingResolver(world.tenant_id)
    state = world.state(resolver=resolver)
    seen: dict[str, Any] = {}

    async def probe(ctx: Context[AppState, Any]) -> str:
        """Reports what the tool body sees."""
        seen["state"] = app_state(ctx)
        seen["caller"] = await current_caller(ctx)
        nested = Context(request_context=ctx.request_context)  # another call's Context
        seen["nested_state"] = app_state(nested)
        seen["nested_caller"] = await current_caller(nested)
        return "ok"

    server = SwitchboardServer(
        "t",
        tools=build_tools([ToolSpec(probe, "t", ToolAccess.READ, READ_ONLY)]),
        lifespan=lifespan_from(partial(borrowed, state)),
    )
    async with Client(server) as client:
        result = await client.call_tool("probe", {})
    assert not result.is_error, result.content
    assert seen["state"] is state and seen["nested_state"] is state
    first, second = resolver.resolved
    assert seen["caller"] is first  # the guard's resolution, not a second one
    assert seen["nested_caller"] is second  # the nested Context resolved its own
    await state.audit.flush()
