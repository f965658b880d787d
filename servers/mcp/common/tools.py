"""Tool registration shared by every Switchboard MCP server.

`GuardedTool` is the SDK's Tool plus three checks before the function runs: arguments the
schema does not name are refused (so a model cannot smuggle in, say, a `tenant_id`), the
caller's role and read-only mode are enforced, and argument validation errors are rewritten
into one readable line per problem. The app state and caller it resolved are available to
the tool body through `app_state()` and `current_caller()` (reading the SDK's
`ctx.request_context` goes through pydantic's private-attribute lookup, ~10 µs a time: once
per call is enough). Its result is converted for the wire by `results.tool_result` (one
serialization, where the SDK's conversion validates again and serializes twice).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool
from mcp.shared.exceptions import MCPError
from mcp.types import ToolAnnotations
from pydantic import ValidationError

from servers.mcp.common.caller import CallerContext
from servers.mcp.common.errors import describe_validation_error
from servers.mcp.common.fence import FENCE_NOTICE
from servers.mcp.common.results import tool_result
from servers.mcp.common.roles import ToolAccess, is_allowed, refusal
from servers.mcp.common.schema import simplify_schema
from servers.mcp.common.state import AppState
from shared.audit import AuditEntry, record_audit
from shared.unstorable import UNSTORABLE_REASON, first_unstorable

__all__ = [
    "READ_ONLY",
    "GuardedTool",
    "ToolSpec",
    "access_map",
    "app_state",
    "build_tools",
    "current_caller",
    "writes",
]

READ_ONLY = ToolAnnotations(
    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
"""The annotations of every tool that only reads this workspace's own data."""


def writes(*, idempotent: bool, open_world: bool, destructive: bool = False) -> ToolAnnotations:
    """The annotations of a tool that changes state (readOnlyHint false)."""
    return ToolAnnotations(
        read_only_hint=False,
        destructive_hint=destructive,
        idempotent_hint=idempotent,
        open_world_hint=open_world,
    )


# The state and caller GuardedTool resolved for the call it runs with that Context (checked
# by identity: a call nested inside another, or a resource read, resolves its own).
_call: ContextVar[tuple[Context[Any, Any], AppState, CallerContext] | None] = ContextVar(
    "switchboard_mcp_call", default=None
)


def _state_of(request: ServerRequestContext[Any, Any]) -> AppState:
    state = request.lifespan_context
    if not isinstance(state, AppState):  # a wiring bug, not a caller mistake
        raise TypeError("the server was started without a Switchboard AppState lifespan")
    return state


def app_state(ctx: Context[Any, Any]) -> AppState:
    """The server's AppState (the one GuardedTool found for this call, inside a tool)."""
    call = _call.get()
    return call[1] if call is not None and call[0] is ctx else _state_of(ctx.request_context)


async def current_caller(ctx: Context[Any, Any]) -> CallerContext:
    """The caller GuardedTool resolved for this call (resolved again outside a tool)."""
    call = _call.get()
    if call is not None and call[0] is ctx:
        return call[2]
    request = ctx.request_context
    return await _state_of(request).caller(request)


class GuardedTool(Tool):
    access: ToolAccess = ToolAccess.WRITE

    async def run(
        self,
        arguments: dict[str, Any],
        context: Context[Any, Any],
        convert_result: bool = False,
    ) -> Any:
        known = set(cast("dict[str, Any]", self.parameters.get("properties", {})))
        unknown = sorted(set(arguments) - known)
        if unknown:
            raise ToolError(
                f"Error executing tool {self.name}: unknown argument(s) {', '.join(unknown)}; "
                f"this tool takes {', '.join(sorted(known)) or 'no arguments'}"
                + (
                    " (the workspace is fixed by the connection, never an argument)"
                    if any("tenant" in name for name in unknown)
                    else ""
                )
            )
        # Checked before the tool runs: the workflow engine calls tools in-process with values
        # from webhook bodies, where nothing has refused such text yet.
        where = first_unstorable(arguments, "arguments")
        if where is not None:
            raise ToolError(f"Error executing tool {self.name}: {where} {UNSTORABLE_REASON}")
        request = context.request_context
        state = _state_of(request)
        caller = await state.caller(request)
        started = time.perf_counter()
        outcome = "error"
        if not is_allowed(caller, self.access):
            await self._audit(state, caller, arguments, "denied", started)
            raise ToolError(
                f"Error executing tool {self.name}: {refusal(self.name, caller, self.access)}"
            )
        token = _call.set((context, state, caller))
        try:
            result = await super().run(arguments, context, convert_result=False)
            if convert_result:
                result = self._converted(result)
            outcome = "ok"
            return result
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                message = describe_validation_error(exc.__cause__)
                raise ToolError(f"Error executing tool {self.name}: {message}") from exc.__cause__
            raise
        finally:
            _call.reset(token)
            await self._audit(state, caller, arguments, outcome, started)

    def _converted(self, result: Any) -> Any:
        try:
            return tool_result(self.fn_metadata, result)
        except MCPError:
            raise
        except Exception as exc:  # as the SDK does: a result it cannot convert is a crash
            raise UnexpectedToolError(f"Error executing tool {self.name}") from exc

    async def _audit(
        self,
        state: AppState,
        caller: CallerContext,
        arguments: dict[str, Any],
        outcome: str,
        started: float,
    ) -> None:
        """One audit row per call: who, tenant, tool, argument digest, outcome, duration.

        A call that may have changed state (a write or admin tool that was allowed to run)
        is audited before its result goes back, in a transaction of its own: the change is
        already committed, and its audit row must not sit in a buffer a crash would lose.
        Those calls are rare and slow anyway. Reads and refusals, the bulk of the traffic,
        go through the state's buffered AuditWriter, off the request path; `await
        state.audit.flush()` writes them (tests do, before reading the log). Buffering a row
        does not wait for anything, so only a row that must be written now (a state change,
        a full buffer, a writer not running) pays for the shielded await.
        """
        entry = AuditEntry(
            tenant_id=caller.tenant_id,
            actor=caller.actor,
            actor_role=caller.role.value,
            action=f"tool:{self.name}",
            outcome=outcome,
            arguments=arguments,
            duration_ms=round((time.perf_counter() - started) * 1000),
        )
        written_now = self.access.changes_state and outcome != "denied"
        if not written_now and state.audit.buffer(entry):
            return
        with anyio.CancelScope(shield=True):  # a cancelled call is still audited
            if written_now:
                await record_audit(state.database, entry)
            else:
                await state.audit.record(entry)


@dataclass(frozen=True)
class ToolSpec:
    """One tool as a server declares it: the function, its contract and who may call it."""

    fn: Callable[..., Any]
    title: str
    access: ToolAccess
    annotations: ToolAnnotations
    name: str | None = None
    fenced: bool = False  # returns untrusted CRM text: the description says how to read it


def _description(spec: ToolSpec) -> str:
    text = inspect.cleandoc(spec.fn.__doc__ or "")
    return f"{text}\n\n{FENCE_NOTICE}" if spec.fenced else text


def build_tools(specs: list[ToolSpec]) -> list[Tool]:
    """GuardedTools for MCPServer(tools=...); the description is the function's docstring."""
    tools: list[Tool] = []
    for spec in specs:
        if spec.annotations.read_only_hint is not (spec.access is ToolAccess.READ):
            raise ValueError(f"{spec.fn.__name__}: readOnlyHint disagrees with its access level")
        tool = GuardedTool.from_function(
            spec.fn,
            name=spec.name,
            title=spec.title,
            description=_description(spec),
            annotations=spec.annotations.model_copy(update={"title": spec.title}),
        )
        assert isinstance(tool, GuardedTool)
        tool.access = spec.access
        if tool.fn_metadata.output_schema is not None:  # before Tool caches it
            tool.fn_metadata.output_schema = simplify_schema(tool.fn_metadata.output_schema)
        tools.append(tool)
    return tools


def access_map(tools: list[Tool]) -> dict[str, ToolAccess]:
    return {
        tool.name: tool.access if isinstance(tool, GuardedTool) else ToolAccess.WRITE
        for tool in tools
    }
