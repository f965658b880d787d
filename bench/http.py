"""`switchboard serve` over real HTTP: tool-call round trips beside a bare MCP server, signed
webhook ingest rate, and idle memory.

Issue 7's targets: tool-call p95 within 1.5x of a bare MCPServer constant tool over the same
transport (measured in the same run); at least 1,000 signed webhooks/s accepted and queued
on 2 cores; `serve` RSS under 200 MB idle.

Both servers run as separate processes on 127.0.0.1 (so client and server do not share a
GIL); the store is a fresh SQLite file with the demo data. Webhook ingest is also measured
on a throwaway Postgres database (`--postgres-url`), with bench/webhook_load.py's load
generator, and the queue is checked afterwards (no loss, no duplicates).

    uv run python bench/http.py [--calls 300] [--webhooks 5000] [--concurrency 32]
        [--postgres-url URL] [--webhooks-only]
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
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import httpx2
import psutil
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

ROOT = _HERE.parent
sys.path.insert(0, str(ROOT))

from bench.webhook_load import IngestRun, run_ingest, throwaway_postgres
from shared.crypto import generate_key

WEBHOOK_SECRET = "bench-webhook-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_floor(port: int) -> None:
    """The baseline: a bare MCPServer with one constant tool, over streamable HTTP, mounted
    and served with the same transport options and uvicorn settings as `switchboard serve`
    (DNS-rebinding checks included); no auth, no audit, no store."""
    from contextlib import asynccontextmanager

    import uvicorn
    from mcp.server.mcpserver import MCPServer
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from servers.http.app import HttpOptions, mcp_transport_options

    server: MCPServer[Any] = MCPServer("floor")

    @server.tool()
    async def constant() -> str:  # pyright: ignore[reportUnusedFunction]
        return "ok"

    mcp_app = server.streamable_http_app(**mcp_transport_options(HttpOptions()))

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with server.session_manager.run():
            yield

    app = Starlette(routes=[Mount("/mcp", app=mcp_app)], lifespan=lifespan)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")


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


async def timed(calls: int, call: Callable[[], Awaitable[Any]], warmup: int = 20) -> list[float]:
    for _ in range(min(warmup, calls)):  # warm up connections and caches
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


async def _wait_for_audit_rows(store: Path, expected: int, deadline_s: float = 30) -> None:
    """The serve side audits every tool call (buffered, flushed every fraction of a second):
    the figures only count if each call left its row."""
    deadline = time.monotonic() + deadline_s
    while True:
        with sqlite3.connect(store) as conn:
            (found,) = conn.execute(
                "SELECT count(*) FROM audit_log WHERE action LIKE 'tool:%'"
            ).fetchone()
        if found == expected:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{expected} tool calls left {found} audit rows")
        await asyncio.sleep(0.1)


def _cpu_s(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


async def tool_round_trips(
    floor_url: str,
    serve_url: str,
    token: str,
    calls: int,
    store: Path | None = None,
    pids: tuple[int, int] | None = None,
) -> list[tuple[str, float, float, float]]:
    """p50/p95 of the bare constant tool and of two real CRM tools (API-key auth, audit on,
    the store's real queries), measured in interleaved rounds so that load from other
    processes hits every series alike; with `pids` (floor, serve), also the server
    process's CPU time per call, a figure the machine's load inflates far less."""
    headers = {"Authorization": f"Bearer {token}"}
    made = 0
    async with (
        httpx2.AsyncClient() as plain,
        Client(streamable_http_client(floor_url.rstrip("/") + "/", http_client=plain)) as floor,
        httpx2.AsyncClient(headers=headers) as authed,
        Client(streamable_http_client(f"{serve_url}/mcp/crm/", http_client=authed)) as crm,
    ):
        found = await crm.call_tool("search_prospects", {"limit": 1})
        assert found.structured_content is not None
        account = found.structured_content["items"][0]["id"]
        made += 1

        def crm_call(name: str, arguments: dict[str, Any]) -> Callable[[], Awaitable[Any]]:
            async def call() -> None:
                nonlocal made
                made += 1
                result = await crm.call_tool(name, arguments)
                assert not result.is_error, result.content

            return call

        series: dict[str, Callable[[], Awaitable[Any]]] = {
            "bare MCPServer constant tool (floor)": lambda: floor.call_tool("constant", {}),
            "switchboard get_account": crm_call("get_account", {"account_id": account}),
            "switchboard search_prospects": crm_call(
                "search_prospects", {"industry": ["dentist"], "limit": 25}
            ),
        }
        samples: dict[str, list[float]] = {name: [] for name in series}
        cpu_s = dict.fromkeys(series, 0.0)
        rounds = 5
        for _ in range(rounds):
            for index, (name, call) in enumerate(series.items()):
                pid = None if pids is None else pids[min(index, 1)]
                before = 0.0 if pid is None else _cpu_s(pid)
                samples[name] += await timed(max(1, calls // rounds), call, warmup=4)
                cpu_s[name] += 0.0 if pid is None else _cpu_s(pid) - before
    if store is not None:
        await _wait_for_audit_rows(store, made)
    # CPU per call: the warm-up calls of each round ran in the measured span too.
    per_series = rounds * (max(1, calls // rounds) + min(4, max(1, calls // rounds)))
    return [
        (name, *percentiles(values), cpu_s[name] * 1000 / per_series)
        for name, values in samples.items()
    ]


async def webhooks_on_postgres(args: argparse.Namespace) -> IngestRun:
    """The same ingest run against `serve` on a throwaway Postgres database."""
    async with throwaway_postgres(args.postgres_url) as url:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")},
            "SWITCHBOARD_DATABASE_URL": url,
            "SWITCHBOARD_SECRET_KEY": generate_key(),
            "SWITCHBOARD_LOG_LEVEL": "WARNING",
        }
        tenant_id = prepare_webhook_store(env)
        port = free_port()
        serve = start([*CLI, "serve", "--port", str(port), "--no-worker"], env)
        try:
            await wait_ready(f"http://127.0.0.1:{port}/healthz")
            return await run_ingest(
                store="Postgres",
                port=port,
                server_pid=serve.pid,
                database_url=url,
                tenant_id=tenant_id,
                secret=WEBHOOK_SECRET,
                total=args.webhooks,
                connections=args.concurrency,
            )
        finally:
            serve.terminate()
            serve.wait(timeout=30)


def prepare_webhook_store(env: dict[str, str]) -> str:
    """Seed the demo tenant and give it a generic webhook secret; returns its id."""
    switchboard(env, "db", "seed", "--demo")
    switchboard(
        env, "tools", "configure", "generic", "--credential", f"webhook_secret={WEBHOOK_SECRET}"
    )
    return next(
        t["id"]
        for t in json.loads(switchboard(env, "tenants", "list", "--json"))
        if t["name"] == "demo"
    )


def print_webhook_runs(runs: list[IngestRun]) -> None:
    print(
        "\nsigned webhooks, accepted to enqueued (202 only after the row is committed); "
        "target >= 1,000/s on 2 cores"
    )
    for run in runs:
        print("\n".join(run.lines()))


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=300, help="tool calls per measurement")
    parser.add_argument("--webhooks", type=int, default=5000, help="signed deliveries to send")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="keep-alive connections sending webhooks"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("SWITCHBOARD_TEST_DATABASE_URL"),
        help="Postgres server for the webhook run on Postgres (a throwaway database is made\n"
        "beside this one); default $SWITCHBOARD_TEST_DATABASE_URL, none: SQLite only",
    )
    parser.add_argument(
        "--webhooks-only", action="store_true", help="skip the tool-call round trips"
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="sb-bench-http-"))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")},
        "SWITCHBOARD_DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "SWITCHBOARD_SECRET_KEY": generate_key(),
        "SWITCHBOARD_LOG_LEVEL": "WARNING",
    }
    tenant_id = prepare_webhook_store(env)
    token = switchboard(env, "keys", "create", "--tenant", "demo", "--role", "admin")

    serve_port, floor_port = free_port(), free_port()
    # --no-worker: webhook ingest is measured as accepted-and-queued, not processed.
    serve = start([*CLI, "serve", "--port", str(serve_port), "--no-worker"], env)
    floor = start([sys.executable, __file__, "--serve-floor", str(floor_port)], None)
    try:
        serve_url, floor_url = f"http://127.0.0.1:{serve_port}", f"http://127.0.0.1:{floor_port}"
        await wait_ready(f"{serve_url}/healthz")
        await wait_ready(f"{floor_url}/mcp")
        idle_rss = psutil.Process(serve.pid).memory_info().rss / 2**20
        store = workdir / "bench.sqlite3"
        rows = (
            []
            if args.webhooks_only
            else await tool_round_trips(
                f"{floor_url}/mcp", serve_url, token, args.calls, store, (floor.pid, serve.pid)
            )
        )
        webhook_runs = [
            await run_ingest(
                store="SQLite",
                port=serve_port,
                server_pid=serve.pid,
                database_url=env["SWITCHBOARD_DATABASE_URL"],
                tenant_id=tenant_id,
                secret=WEBHOOK_SECRET,
                total=args.webhooks,
                connections=args.concurrency,
            )
        ]
    finally:
        for process in (serve, floor):
            process.terminate()
            process.wait(timeout=30)

    if args.postgres_url:
        webhook_runs.append(await webhooks_on_postgres(args))
    if args.webhooks_only:
        print_webhook_runs(webhook_runs)
        return
    _, floor_p50, floor_p95, _ = rows[0]
    print(f"\ntool-call round trip over streamable HTTP ({args.calls} calls each)")
    print(
        f"{'call':<38} {'p50 ms':>8} {'p95 ms':>8} {'p50/floor':>10} {'p95/floor':>10}"
        f" {'server CPU ms/call':>19}"
    )
    for name, p50, p95, cpu in rows:
        print(
            f"{name:<38} {p50:8.2f} {p95:8.2f} {p50 / floor_p50:10.2f} {p95 / floor_p95:10.2f}"
            f" {cpu:19.2f}"
        )
    print("target: switchboard within 1.5x of the floor (every call audited: checked)")
    print_webhook_runs(webhook_runs)
    print(f"serve RSS idle (demo store, before load): {idle_rss:.0f} MB (target < 200 MB)")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-floor":
        serve_floor(int(sys.argv[2]))
    else:
        asyncio.run(main())
