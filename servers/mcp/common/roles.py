"""Which tools a caller sees and may call: by role, and never a write in read-only mode.

A hidden tool is filtered out of `tools/list` (by `ToolVisibilityMiddleware`) and refused if
called anyway (by `GuardedTool`, see `tools.py`), so a client that remembers an old list
still cannot write.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, cast

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from servers.mcp.common.caller import CallerContext, Role
from servers.mcp.common.state import AppState

__all__ = ["ToolAccess", "ToolVisibilityMiddleware", "is_allowed", "refusal"]


class ToolAccess(StrEnum):
    READ = "read"  # viewer and up; never hidden
    WRITE = "write"  # operator and up; hidden in read-only mode
    ADMIN = "admin"  # admin only; hidden in read-only mode (admin tools change state)

    @property
    def needed_role(self) -> Role:
        return {
            ToolAccess.READ: Role.VIEWER,
            ToolAccess.WRITE: Role.OPERATOR,
            ToolAccess.ADMIN: Role.ADMIN,
        }[self]

    @property
    def changes_state(self) -> bool:
        return self is not ToolAccess.READ


def is_allowed(caller: CallerContext, access: ToolAccess) -> bool:
    if access.changes_state and caller.read_only:
        return False
    return caller.has_role(access.needed_role)


def refusal(tool_name: str, caller: CallerContext, access: ToolAccess) -> str:
    """The message a refused call returns: why, and what the caller can do instead."""
    if access.changes_state and caller.read_only:
        return (
            f"{tool_name} changes data, and this server is read-only "
            "(SWITCHBOARD_READ_ONLY is set). Use the read tools, or ask the operator to "
            "turn read-only mode off."
        )
    return (
        f"{tool_name} needs the {access.needed_role.value} role; this caller is a "
        f"{caller.role.value}. Use the read tools, or ask an admin for a token with that role."
    )


class ToolVisibilityMiddleware:
    """Filters `tools/list` down to the tools the requesting caller may call.

    `access_of` maps tool names to their access level; a tool missing from it is treated
    as a write (fail closed). The caller is resolved by the app state found in the
    request's lifespan context (`servers.mcp.common.state.AppState`).
    """

    def __init__(self, access_of: Mapping[str, ToolAccess]) -> None:
        self._access_of = dict(access_of)

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.method != "tools/list" or not isinstance(result, dict):
            return result
        state = ctx.lifespan_context
        if not isinstance(state, AppState):
            return result
        caller = await state.caller(ctx)
        tools = cast("list[dict[str, Any]]", result.get("tools", []))
        visible = [
            tool
            for tool in tools
            if is_allowed(caller, self._access_of.get(str(tool.get("name")), ToolAccess.WRITE))
        ]
        return {**result, "tools": visible}
