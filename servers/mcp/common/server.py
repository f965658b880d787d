"""The MCPServer class every Switchboard server is built on.

It is the SDK's MCPServer with one per-call saving. Over streamable HTTP, on every
`tools/call` with arguments, the SDK checks the request's `Mcp-Param-*` headers against the
properties of the tool's input schema that declare an `x-mcp-header`, walking the whole
schema twice to find them: about 0.1 ms per call for search_prospects' schema, on every call,
although none of our tools declares such a header. The SDK skips the check when the schema
lookup answers None; `SwitchboardServer` answers None exactly for the tools whose schema
declares no `x-mcp-header` (a check that would pass whatever the headers say), decided once
per tool, and the schema otherwise, so a tool that declares headers is still checked.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.shared.inbound import x_mcp_header_map

from servers.mcp.common.state import AppState

__all__ = ["SwitchboardServer", "declares_param_headers"]


def declares_param_headers(input_schema: dict[str, Any]) -> bool:
    """Whether any property of the schema asks for an `Mcp-Param-*` header."""
    return bool(x_mcp_header_map(input_schema))


class SwitchboardServer(MCPServer[AppState]):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # tool name -> (the schema it was decided for, whether it declares headers)
        self._header_check: dict[str, tuple[dict[str, Any], bool]] = {}

    def _tool_input_schema(self, name: str) -> dict[str, Any] | None:
        schema = super()._tool_input_schema(name)
        if schema is None:
            return None
        known = self._header_check.get(name)
        if known is None or known[0] is not schema:  # first call, or the tool was replaced
            known = (schema, declares_param_headers(schema))
            self._header_check[name] = known
        return schema if known[1] else None
