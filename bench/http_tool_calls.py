"""Tool-call round trips over streamable HTTP, for bench/http.py.

Issue 7's target compares `switchboard serve`'s real CRM tools with a bare MCPServer
constant tool over the same transport, in the same run. A constant "ok" and a page of 25
accounts differ in more than our server's work: the SDK client validates every structured
result against the tool's outputSchema (jsonschema, per property of every row) and both
sides serialize and parse a larger answer. So the bare server also serves each real tool's
own payload, fetched from `serve` at the start, as a prebuilt result with the same output
schema ("bare, same payload"): what any MCP server answering that result costs over this
transport and client. The series:

- bare constant tool (the issue's floor)
- bare server answering get_account's / search_prospects' payload (no store, no auth)
- switchboard get_account / search_prospects (API-key auth, role check, audit, the store)

Every series runs in each of `rounds` rounds, in a rotating order, so the other engineers'
load hits them alike; each round starts with a few untimed calls. Reported per series: p50
and p95 over all rounds, the median over rounds of the round's p50 ratio (steadier under
load), the server process's CPU per call (psutil, timed calls only) and the client's (this
process's `time.process_time`, which the SDK client's validation and parsing dominate).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import psutil
import pydantic_core
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from bench.figures import Figure, at_most

__all__ = [
    "FLOOR",
    "RoundTrips",
    "SeriesResult",
    "fetch_payloads",
    "serve_floor",
    "tool_round_trips",
]

Timed = Callable[[], Awaitable[None]]
FLOOR = "bare MCPServer constant tool (floor)"
SEARCH_ARGUMENTS: dict[str, Any] = {"industry": ["dentist"], "limit": 25}
# Real tool -> the bare server's tool answering its payload.
PAYLOAD_TOOLS = {"get_account": "get_account_payload", "search_prospects": "search_payload"}


async def fetch_payloads(serve_url: str, token: str) -> dict[str, Any]:
    """Call each real tool once: its arguments, result and output schema, for the bare
    server (`serve_floor`) and the timed calls."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(f"{serve_url}/mcp/crm/", http_client=http)) as crm,
    ):
        schemas = {tool.name: tool.output_schema for tool in (await crm.list_tools()).tools}
        found = await crm.call_tool("search_prospects", SEARCH_ARGUMENTS)
        assert found.structured_content is not None
        get_arguments = {"account_id": found.structured_content["items"][0]["id"]}
        account = await crm.call_tool("get_account", get_arguments)
        assert account.structured_content is not None
    return {
        "get_account": {
            "arguments": get_arguments,
            "structured": account.structured_content,
            "output_schema": schemas["get_account"],
        },
        "search_prospects": {
            "arguments": SEARCH_ARGUMENTS,
            "structured": found.structured_content,
            "output_schema": schemas["search_prospects"],
        },
    }


def serve_floor(port: int, payloads_path: Path) -> None:
    """The baseline: a bare MCPServer over streamable HTTP, mounted and served with the same
    transport options and uvicorn settings as `switchboard serve` (DNS-rebinding checks
    included, startup objects frozen alike); no auth, no audit, no store. One constant tool,
    and one tool per real tool answering that tool's prebuilt payload."""
    import uvicorn
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.tools import Tool
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from servers.cli.serve import UVICORN_SETTINGS
    from servers.http.app import HttpOptions, mcp_transport_options
    from shared.gc_tuning import freeze_startup_objects

    payloads: dict[str, Any] = json.loads(payloads_path.read_text())

    def prebuilt(name: str) -> CallToolResult:
        structured: dict[str, Any] = payloads[name]["structured"]
        text = pydantic_core.to_json(structured).decode()  # the compact copy serve sends
        return CallToolResult(
            content=[TextContent(type="text", text=text)], structured_content=structured
        )

    account, page = prebuilt("get_account"), prebuilt("search_prospects")

    async def constant() -> str:
        return "ok"

    async def get_account_payload(account_id: str) -> CallToolResult:
        return account

    async def search_payload(industry: list[str] | None = None, limit: int = 25) -> CallToolResult:
        return page

    tools = [Tool.from_function(constant)]
    for real, function in (
        ("get_account", get_account_payload),
        ("search_prospects", search_payload),
    ):
        tool = Tool.from_function(function)
        # Advertised like serve's (the client validates against it); not re-validated here,
        # as serve does not re-validate its own models either.
        tool.fn_metadata.output_schema = payloads[real]["output_schema"]
        tools.append(tool)
    server: MCPServer[Any] = MCPServer("floor", tools=tools)
    mcp_app = server.streamable_http_app(**mcp_transport_options(HttpOptions()))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with server.session_manager.run():
            yield

    app = Starlette(routes=[Mount("/mcp", app=mcp_app)], lifespan=lifespan)
    freeze_startup_objects()
    uvicorn.run(app, host="127.0.0.1", port=port, **UVICORN_SETTINGS)


@dataclass
class SeriesResult:
    name: str
    samples: list[float] = field(default_factory=list[float])  # ms, every round
    round_p50s: list[float] = field(default_factory=list[float])
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        ordered = sorted(self.samples)
        return ordered[max(0, int(len(ordered) * 0.95) - 1)]

    def server_cpu_ms(self) -> float:
        return self.server_cpu_s * 1000 / len(self.samples)

    def client_cpu_ms(self) -> float:
        return self.client_cpu_s * 1000 / len(self.samples)

    def round_ratio(self, base: SeriesResult) -> float:
        """Median over rounds of this series' p50 over `base`'s p50 in the same round."""
        return statistics.median(
            mine / theirs for mine, theirs in zip(self.round_p50s, base.round_p50s, strict=True)
        )


@dataclass
class RoundTrips:
    series: dict[str, SeriesResult]
    baseline_of: dict[str, str]  # switchboard series -> its same-payload bare series
    calls: int

    def lines(self) -> list[str]:
        floor = self.series[FLOOR]
        out = [
            f"\ntool-call round trip over streamable HTTP ({self.calls} timed calls per series,"
            " SDK client, same transport options and uvicorn settings on both servers)",
            f"{'series':<40} {'p50 ms':>7} {'p95 ms':>7} {'p50/floor':>9} {'p95/floor':>9}"
            f" {'rounds':>6} {'srv CPU':>7} {'cli CPU':>7}",
        ]
        for result in self.series.values():
            out.append(
                f"{result.name:<40} {result.p50:7.2f} {result.p95:7.2f}"
                f" {result.p50 / floor.p50:9.2f} {result.p95 / floor.p95:9.2f}"
                f" {result.round_ratio(floor):6.2f} {result.server_cpu_ms():7.2f}"
                f" {result.client_cpu_ms():7.2f}"
            )
        out.append(
            "  p50/floor, p95/floor: over all rounds; rounds: median of the per-round p50 ratio;"
            " CPU in ms per call (server process; client = this process)"
        )
        out.append("  switchboard over the bare server answering the same payload (our own cost):")
        for name, bare_name in self.baseline_of.items():
            mine, bare = self.series[name], self.series[bare_name]
            out.append(
                f"    {name:<36} p50 {mine.p50 / bare.p50:5.2f}x  p95 {mine.p95 / bare.p95:5.2f}x"
                f"  server CPU +{mine.server_cpu_ms() - bare.server_cpu_ms():.2f} ms/call"
            )
        out.append("target: switchboard within 1.5x of the floor (every call audited: checked)")
        return out

    def figures(self) -> list[Figure]:
        floor = self.series[FLOOR]
        found: list[Figure] = []
        for name, bare_name in self.baseline_of.items():
            mine, bare = self.series[name], self.series[bare_name]
            for label, value, base in (("p50", mine.p50, floor.p50), ("p95", mine.p95, floor.p95)):
                found.append(
                    at_most(
                        f"HTTP tool call {label} / bare constant tool: {name}",
                        round(value / base, 2),
                        1.5,
                        "x",
                        baseline=f"{value:.2f} ms vs {base:.2f} ms",
                    )
                )
            found.append(
                Figure(
                    f"HTTP tool call p50 / bare server with the same payload: {name}",
                    round(mine.p50 / bare.p50, 2),
                    "x",
                    baseline=f"{mine.p50:.2f} ms vs {bare.p50:.2f} ms",
                )
            )
        return found


def _cpu_s(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def _tool_audit_rows(store: Path) -> int:
    with sqlite3.connect(store) as conn:
        (found,) = conn.execute(
            "SELECT count(*) FROM audit_log WHERE action LIKE 'tool:%'"
        ).fetchone()
    return int(found)


async def _wait_for_audit_rows(store: Path, expected: int, deadline_s: float = 30) -> None:
    """The serve side audits every tool call (buffered, flushed every fraction of a second):
    the figures only count if each call left its row."""
    deadline = time.monotonic() + deadline_s
    while True:
        found = _tool_audit_rows(store)
        if found == expected:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{expected} tool calls left {found} audit rows")
        await asyncio.sleep(0.1)


async def tool_round_trips(
    *,
    floor_url: str,
    serve_url: str,
    token: str,
    calls: int,
    payloads: dict[str, Any],
    store: Path,
    pids: tuple[int, int],
    rounds: int = 5,
    warmup: int = 5,
) -> RoundTrips:
    """Every series `calls` times (split over `rounds`); `pids` = (floor, serve)."""
    # Tool calls sent to serve on a fresh store, each owed one audit row: fetch_payloads'
    # one per real tool, then every call below.
    made = len(PAYLOAD_TOOLS)
    async with (
        httpx2.AsyncClient() as plain,
        Client(streamable_http_client(floor_url.rstrip("/") + "/", http_client=plain)) as floor,
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as authed,
        Client(streamable_http_client(f"{serve_url}/mcp/crm/", http_client=authed)) as crm,
    ):

        def call(client: Client, name: str, arguments: dict[str, Any]) -> Timed:
            async def once() -> None:
                nonlocal made
                made += client is crm
                result = await client.call_tool(name, arguments)
                assert not result.is_error, result.content

            return once

        plan: list[tuple[str, int, Timed]] = [(FLOOR, pids[0], call(floor, "constant", {}))]
        baseline_of: dict[str, str] = {}
        for real, bare_tool in PAYLOAD_TOOLS.items():
            arguments = payloads[real]["arguments"]
            bare_name, mine = f"bare, {real}'s payload", f"switchboard {real}"
            plan.append((bare_name, pids[0], call(floor, bare_tool, arguments)))
            plan.append((mine, pids[1], call(crm, real, arguments)))
            baseline_of[mine] = bare_name
        series = {name: SeriesResult(name) for name, _, _ in plan}
        per_round = max(1, calls // rounds)
        for _, _, once in plan:  # first calls: connections, tool listings, compiled validators
            for _ in range(warmup * 4):
                await once()
        for index in range(rounds):
            for name, pid, once in plan[index % len(plan) :] + plan[: index % len(plan)]:
                for _ in range(warmup):
                    await once()
                result = series[name]
                samples: list[float] = []
                server_before, client_before = _cpu_s(pid), time.process_time()
                for _ in range(per_round):
                    started = time.perf_counter()
                    await once()
                    samples.append((time.perf_counter() - started) * 1000)
                result.server_cpu_s += _cpu_s(pid) - server_before
                result.client_cpu_s += time.process_time() - client_before
                result.samples += samples
                result.round_p50s.append(statistics.median(samples))
    await _wait_for_audit_rows(store, made)
    return RoundTrips(series, baseline_of, per_round * rounds)
