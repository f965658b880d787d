"""The three MCP servers on one small CRM, served in a background event loop so that
synchronous hypothesis tests can call their tools through the in-memory MCP client.

Built once per test module: migrating and seeding take a second, and the point of fuzzing is
that one long-lived server keeps answering whatever came before.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pydantic_core
import stamina
from anyio.from_thread import BlockingPortal
from mcp import Client
from mcp.types import CallToolResult, Tool
from pydantic import SecretStr

from servers.mcp.analysis import build_analysis_server
from servers.mcp.common.state import AppState
from servers.mcp.crm import build_crm_server
from servers.mcp.orchestration import PlatformAccess, build_orchestration_server
from shared.crypto import generate_key
from tests.unit.fuzz.strategies import INTERNAL_MARKERS
from tests.unit.fuzz.world import world_at
from tests.unit.servers.mcp.crm_world import CrmWorld

__all__ = [
    "SERVERS",
    "McpHarness",
    "check_answer",
    "problem_with",
    "serve_mcp",
    "serve_mcp_at",
    "text_of",
]

SERVERS = ("crm", "analysis", "orchestration")


def _platform_garbage(request: httpx.Request) -> httpx.Response:
    # Every platform answers with a malformed body: no test reaches the network.
    return httpx.Response(502, content=b"\x00not json{", request=request)


class _CrashLog(logging.Handler):
    """Collects the SDK's "raised an unexpected exception" records: a tool that crashed
    instead of raising a ToolError."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.crashes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "unexpected exception" in record.getMessage():
            detail = repr(record.exc_info[1]) if record.exc_info else ""
            self.crashes.append(f"{record.getMessage()} {detail}")


@dataclass
class McpHarness:
    portal: BlockingPortal
    world: CrmWorld
    clients: dict[str, Client]
    tools: dict[str, list[Tool]]
    crash_log: _CrashLog
    calls: int = 0
    seen_errors: list[str] = field(default_factory=list[str])

    def call(self, server: str, tool: str, arguments: dict[str, Any]) -> CallToolResult:
        """Call as a real (stdio or HTTP) client would: arguments that JSON cannot carry to
        the server (lone surrogates) are refused before sending, as the SDK's parser does."""
        self.calls += 1
        client = self.clients[server]
        return self.portal.call(lambda: client.call_tool(tool, arguments))

    def take_crashes(self) -> list[str]:
        crashes = list(self.crash_log.crashes)
        self.crash_log.crashes.clear()
        return crashes


def on_the_wire(arguments: dict[str, Any]) -> dict[str, Any] | None:
    """The arguments as the server's JSON parser would see them, or None when it would
    refuse the request (the SDK's parser rejects lone surrogates, unlike `json.loads`)."""
    try:
        parsed: dict[str, Any] = pydantic_core.from_json(json.dumps(arguments))
    except ValueError:
        return None
    return parsed


def text_of(result: CallToolResult) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


def problem_with(harness: McpHarness, tool: str, arguments: dict[str, Any]) -> str | None:
    """What is wrong with the answer to this call, or None. Every call must get a result or
    a readable ToolError; never a crash, a stack trace, an internal path or an echo of a huge
    argument."""
    server = next(s for s, tools in harness.tools.items() if any(t.name == tool for t in tools))
    sent = on_the_wire(arguments)
    if sent is None:
        return None  # no client can send this; test_mcp_in_process.py covers it
    result = harness.call(server, tool, sent)
    crashes = harness.take_crashes()
    if crashes:
        return f"{tool}({_short(arguments)}) crashed: {crashes}"
    if not result.is_error:
        return None
    text = text_of(result)
    leaked = [m for m in INTERNAL_MARKERS if m in text]
    if leaked:
        return f"{tool}({_short(arguments)}) leaked {leaked}: {text[:500]}"
    if len(text) > 4_000:
        return f"{tool}({_short(arguments)}) echoed {len(text)} chars: {text[:200]}"
    # "Error executing tool X" alone is what the SDK says when a tool crashed.
    if len(text.split(":", 1)[-1].strip()) < 10:
        return f"{tool}({_short(arguments)}): no useful message: {text!r}"
    return None


def check_answer(harness: McpHarness, tool: str, arguments: dict[str, Any]) -> None:
    problem = problem_with(harness, tool, arguments)
    assert problem is None, problem


def _short(arguments: dict[str, Any]) -> str:
    text = repr(arguments)
    return text if len(text) < 300 else text[:300] + "..."


def _state(world: CrmWorld) -> AppState:
    state = world.state()
    state.settings = state.settings.model_copy(update={"secret_key": SecretStr(generate_key())})
    return state


@contextmanager
def serve_mcp(template: Path, directory: Path) -> Iterator[McpHarness]:
    """The three servers (admin caller, SQLite store copied from a migrated template)."""
    path = directory / "store.sqlite3"
    shutil.copyfile(template, path)
    with serve_mcp_at(f"sqlite:///{path}") as harness:
        yield harness


@contextmanager
def serve_mcp_at(url: str) -> Iterator[McpHarness]:
    """The three servers (admin caller) on the migrated, empty store at `url`."""
    crash_log = _CrashLog()
    mcp_logger = logging.getLogger("mcp")
    mcp_logger.addHandler(crash_log)
    platforms = PlatformAccess(
        client_factory=lambda: httpx.AsyncClient(transport=httpx.MockTransport(_platform_garbage)),
        collection_deadline_s=2.0,
    )
    builders: dict[str, Callable[[AppState], Any]] = {
        "crm": lambda state: build_crm_server(state=state),
        "analysis": lambda state: build_analysis_server(state=state),
        "orchestration": lambda state: build_orchestration_server(state=state, platforms=platforms),
    }
    try:
        with (
            stamina.set_testing(True, attempts=1),
            world_at(url) as threaded,
            ExitStack() as stack,
        ):
            portal, state = threaded.portal, _state(threaded.world)
            clients = {
                name: stack.enter_context(portal.wrap_async_context_manager(Client(build(state))))
                for name, build in builders.items()
            }
            tools = {name: portal.call(client.list_tools).tools for name, client in clients.items()}
            yield McpHarness(portal, threaded.world, clients, tools, crash_log)
    finally:
        mcp_logger.removeHandler(crash_log)
