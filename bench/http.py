"""`switchboard serve` over real HTTP: tool-call round trips beside a bare MCP server, signed
webhook ingest rate, and idle memory.

Issue 7's targets: tool-call p50/p95 within 1.5x of a bare MCPServer constant tool over the
same transport (measured in the same run); at least 1,000 signed webhooks/s accepted and queued
on 2 cores; `serve` RSS under 200 MB idle.

Both servers run as separate processes on 127.0.0.1 (so client and server do not share a
GIL); the store is a fresh SQLite file with the demo data. Webhook ingest is also measured
on a throwaway Postgres database (`--postgres-url`), with bench/webhook_load.py's load
generator, and the queue is checked afterwards (no loss, no duplicates).

The tool-call part (bench/http_tool_calls.py) also runs the bare server answering each real
tool's own payload, which splits the gap into what the larger answer costs any server and
client, and what our server adds.

    uv run python bench/http.py [--calls 300] [--rounds 5] [--webhooks 5000]
        [--concurrency 32] [--postgres-url URL] [--webhooks-only | --tools-only] [--json PATH]
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
import shutil
import socket
import subprocess
import tempfile
import time

import httpx
import psutil

ROOT = _HERE.parent
sys.path.insert(0, str(ROOT))

from bench.figures import Figure, add_json_option, at_least, at_most, write_figures
from bench.http_tool_calls import RoundTrips, fetch_payloads, serve_floor, tool_round_trips
from bench.webhook_load import IngestRun, run_ingest, throwaway_postgres
from shared.crypto import generate_key

WEBHOOK_SECRET = "bench-webhook-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    parser.add_argument(
        "--calls", type=int, default=300, help="timed tool calls per series (split over --rounds)"
    )
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
        "--rounds", type=int, default=5, help="rounds the tool calls are split into"
    )
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--webhooks-only", action="store_true", help="skip the tool-call round trips")
    only.add_argument("--tools-only", action="store_true", help="skip the webhook ingest runs")
    add_json_option(parser)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="sb-bench-http-"))
    try:
        await run_benches(args, workdir)
    finally:  # the store and payloads of this run (a few MB) are not kept
        shutil.rmtree(workdir, ignore_errors=True)


async def run_benches(args: argparse.Namespace, workdir: Path) -> None:
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
    processes = [serve]
    round_trips: RoundTrips | None = None
    webhook_runs: list[IngestRun] = []
    try:
        serve_url, floor_url = f"http://127.0.0.1:{serve_port}", f"http://127.0.0.1:{floor_port}"
        await wait_ready(f"{serve_url}/healthz")
        idle_rss = psutil.Process(serve.pid).memory_info().rss / 2**20
        if not args.webhooks_only:
            payloads = await fetch_payloads(serve_url, token)
            payloads_path = workdir / "payloads.json"
            await asyncio.to_thread(payloads_path.write_text, json.dumps(payloads))
            floor = start(
                [sys.executable, __file__, "--serve-floor", str(floor_port), str(payloads_path)],
                None,
            )
            processes.append(floor)
            await wait_ready(f"{floor_url}/mcp")
            round_trips = await tool_round_trips(
                floor_url=f"{floor_url}/mcp",
                serve_url=serve_url,
                token=token,
                calls=args.calls,
                payloads=payloads,
                store=workdir / "bench.sqlite3",
                pids=(floor.pid, serve.pid),
                rounds=args.rounds,
            )
        if not args.tools_only:
            webhook_runs.append(
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
            )
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)

    if args.postgres_url and not args.tools_only:
        webhook_runs.append(await webhooks_on_postgres(args))
    figures: list[Figure] = []
    if round_trips is not None:
        print("\n".join(round_trips.lines()))
        figures += round_trips.figures()
    if webhook_runs:
        print_webhook_runs(webhook_runs)
        figures += [
            at_least(
                f"signed webhooks accepted and queued ({run.store})", round(run.rate), 1000, "/s"
            )
            for run in webhook_runs
        ]
    print(f"serve RSS idle (demo store, before load): {idle_rss:.0f} MB (target < 200 MB)")
    figures.append(at_most("serve RSS idle", round(idle_rss), 200, "MB"))
    write_figures(args.json, figures)
    print(f"(load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())})")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-floor":
        serve_floor(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        asyncio.run(main())
