"""`switchboard serve` over real HTTP: tool-call round trips beside a bare MCP server, signed
webhook ingest rate, and idle memory.

Issue 7's targets: tool-call p95 within 1.5x of a bare MCPServer constant tool over the same
transport (measured in the same run); at least 1,000 signed webhooks/s accepted and queued
on 2 cores; `serve` RSS under 200 MB idle.

Both servers run as separate processes on 127.0.0.1 (so client and server do not share a
GIL); the store is a fresh SQLite file with the demo data.

    uv run python bench/http.py [--calls 300] [--webhooks 2000] [--concurrency 16]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and its name would shadow
# the standard library's `http` package that httpx imports: take the folder off.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import httpx2
import psutil
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

ROOT = _HERE.parent
sys.path.insert(0, str(ROOT))

from shared.crypto import generate_key
from shared.webhooks.signing import sign_switchboard

WEBHOOK_SECRET = "bench-webhook-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_floor(port: int) -> None:
    """The baseline: a bare MCPServer with one constant tool, over streamable HTTP."""
    import uvicorn
    from mcp.server.mcpserver import MCPServer

    server: MCPServer[Any] = MCPServer("floor")

    @server.tool()
    async def constant() -> str:  # pyright: ignore[reportUnusedFunction]
        return "ok"

    uvicorn.run(server.streamable_http_app(), host="127.0.0.1", port=port, log_level="warning")


CLI = [sys.executable, "-m", "servers.cli.main"]


def start(command: list[str], env: dict[str, str] | None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, cwd=ROOT, stderr=subprocess.DEVNULL)


def switchboard(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [*CLI, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


async def wait_ready(url: str, deadline_s: float = 60) -> None:
    deadline = time.monotonic() + deadline_s
    async with httpx.AsyncClient() as http:
        while True:
            try:
                if (await http.get(url)).status_code < 500:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up")
            await asyncio.sleep(0.1)


async def timed(calls: int, call: Callable[[], Awaitable[Any]]) -> list[float]:
    for _ in range(min(20, calls)):  # warm up connections and caches
        await call()
    samples: list[float] = []
    for _ in range(calls):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


async def tool_round_trips(
    floor_url: str, serve_url: str, token: str, calls: int
) -> list[tuple[str, float, float]]:
    rows: list[tuple[str, float, float]] = []
    async with (
        httpx2.AsyncClient() as plain,
        Client(streamable_http_client(floor_url, http_client=plain)) as floor,
    ):
        samples = await timed(calls, lambda: floor.call_tool("constant", {}))
        rows.append(("bare MCPServer constant tool (floor)", *percentiles(samples)))
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=headers) as authed:
        url = f"{serve_url}/mcp/crm/"
        async with Client(streamable_http_client(url, http_client=authed)) as crm:
            found = await crm.call_tool("search_prospects", {"limit": 1})
            assert found.structured_content is not None
            account = found.structured_content["items"][0]["id"]
            for name, arguments in (
                ("get_account", {"account_id": account}),
                ("search_prospects", {"industry": ["dentist"], "limit": 25}),
            ):
                samples = await timed(calls, lambda n=name, a=arguments: crm.call_tool(n, a))
                rows.append((f"switchboard {name}", *percentiles(samples)))
    return rows


async def webhook_rate(serve_url: str, tenant_id: str, total: int, concurrency: int) -> float:
    url = f"{serve_url}/webhooks/generic?tenant={tenant_id}"
    bodies = [
        json.dumps(
            {
                "eventId": f"bench-{i}",
                "eventType": "lead_qualified",
                "customerId": f"c{i}",
                "eventData": {"qualification_score": 90},
            }
        ).encode()
        for i in range(total)
    ]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    refused = 0

    async def sender(http: httpx.AsyncClient) -> None:
        nonlocal refused
        while not queue.empty():
            body = queue.get_nowait()
            answer = await http.post(
                url, content=body, headers=sign_switchboard(WEBHOOK_SECRET, body)
            )
            refused += answer.status_code != 202

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        started = time.perf_counter()
        await asyncio.gather(*(sender(http) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if refused:
        raise RuntimeError(f"{refused} deliveries were refused")
    return total / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300, help="tool calls per measurement")
    parser.add_argument("--webhooks", type=int, default=2000, help="signed deliveries to send")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent webhook senders")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="sb-bench-http-"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")},
        "SWITCHBOARD_DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "SWITCHBOARD_SECRET_KEY": generate_key(),
        "SWITCHBOARD_LOG_LEVEL": "WARNING",
    }
    switchboard(env, "db", "seed", "--demo")
    token = switchboard(env, "keys", "create", "--tenant", "demo", "--role", "admin")
    switchboard(
        env, "tools", "configure", "generic", "--credential", f"webhook_secret={WEBHOOK_SECRET}"
    )
    tenant_id = next(
        t["id"]
        for t in json.loads(switchboard(env, "tenants", "list", "--json"))
        if t["name"] == "demo"
    )

    serve_port, floor_port = free_port(), free_port()
    # --no-worker: webhook ingest is measured as accepted-and-queued, not processed.
    serve = start([*CLI, "serve", "--port", str(serve_port), "--no-worker"], env)
    floor = start([sys.executable, __file__, "--serve-floor", str(floor_port)], None)
    try:
        serve_url, floor_url = f"http://127.0.0.1:{serve_port}", f"http://127.0.0.1:{floor_port}"
        await wait_ready(f"{serve_url}/healthz")
        await wait_ready(f"{floor_url}/mcp")
        idle_rss = psutil.Process(serve.pid).memory_info().rss / 2**20
        rows = await tool_round_trips(f"{floor_url}/mcp", serve_url, token, args.calls)
        rate = await webhook_rate(serve_url, tenant_id, args.webhooks, args.concurrency)
    finally:
        for process in (serve, floor):
            process.terminate()
            process.wait(timeout=30)

    floor_p95 = rows[0][2]
    print(f"\ntool-call round trip over streamable HTTP ({args.calls} calls each)")
    print(f"{'call':<42} {'p50 ms':>8} {'p95 ms':>8} {'p95/floor':>10}")
    for name, p50, p95 in rows:
        print(f"{name:<42} {p50:8.2f} {p95:8.2f} {p95 / floor_p95:10.2f}")
    print("target: switchboard p95 within 1.5x of the floor")
    print(
        f"\nsigned webhooks accepted and queued: {rate:,.0f}/s ({args.webhooks} deliveries, "
        f"{args.concurrency} concurrent senders; target >= 1,000/s)"
    )
    print(f"serve RSS idle (demo store, before load): {idle_rss:.0f} MB (target < 200 MB)")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-floor":
        serve_floor(int(sys.argv[2]))
    else:
        asyncio.run(main())
