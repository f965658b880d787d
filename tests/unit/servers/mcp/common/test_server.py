"""SwitchboardServer skips the SDK's Mcp-Param header check only where it cannot refuse."""

from __future__ import annotations

from typing import Annotated

from mcp.shared.inbound import validate_mcp_param_headers
from pydantic import Field

from servers.mcp.analysis import build_analysis_server
from servers.mcp.common.roles import ToolAccess
from servers.mcp.common.server import SwitchboardServer, declares_param_headers
from servers.mcp.common.tools import READ_ONLY, ToolSpec, build_tools
from servers.mcp.crm import build_crm_server
from servers.mcp.orchestration import build_orchestration_server


async def plain(city: str, limit: int = 5) -> str:
    """No argument travels as a header."""
    return city * limit


async def routed(
    region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})],
) -> str:
    """`region` is mirrored into an Mcp-Param-Region header."""
    return region


def _server() -> SwitchboardServer:
    specs = [ToolSpec(fn, fn.__name__, ToolAccess.READ, READ_ONLY) for fn in (plain, routed)]
    return SwitchboardServer("t", tools=build_tools(specs))


def test_a_tool_declaring_a_param_header_is_still_checked() -> None:
    server = _server()
    schema = server._tool_input_schema("routed")  # pyright: ignore[reportPrivateUsage]
    assert schema is not None and declares_param_headers(schema)
    refused = validate_mcp_param_headers(schema, {"region": "TX"}, {"mcp-param-region": "CA"})
    assert refused is not None  # what the SDK answers for a header that contradicts the body


def test_the_check_is_skipped_only_where_it_would_pass_whatever_the_headers() -> None:
    server = _server()
    assert server._tool_input_schema("plain") is None  # pyright: ignore[reportPrivateUsage]
    assert server._tool_input_schema("missing") is None  # pyright: ignore[reportPrivateUsage]
    [tool] = build_tools([ToolSpec(plain, "p", ToolAccess.READ, READ_ONLY)])
    headers = {"mcp-param-city": "Elsewhere", "mcp-param-limit": "x", "mcp-name": "other"}
    assert validate_mcp_param_headers(tool.parameters, {"city": "Austin"}, headers) is None


def test_no_switchboard_tool_declares_a_param_header() -> None:
    # If one ever does, SwitchboardServer checks it; this documents that none needs it now.
    for server in (build_crm_server(), build_analysis_server(), build_orchestration_server()):
        assert isinstance(server, SwitchboardServer)
        for name in [t.name for t in server._tool_manager.list_tools()]:  # pyright: ignore[reportPrivateUsage]
            assert server._tool_input_schema(name) is None  # pyright: ignore[reportPrivateUsage]
