"""Per-call latency of the CRM MCP tools through the in-memory MCP client.

For each store size and backend: p50/p95 of `search_prospects`, `get_account` and a
`query_crm` aggregation on the demo tenant, printed beside a bare MCPServer tool that returns
a constant (the framework floor) measured in the same run. Targets (issue 3): p95 of
search_prospects and get_account within 5 ms of the floor at 100k accounts, under 50 ms at 1M.
`CPU ms` is the median CPU time of this process per call (MCP client and server, and SQLite,
which runs in-process; not the Postgres server's): a figure other processes' load inflates
far less than wall-clock time. The `host` row times a fixed pure-Python workload of about a
search's length in the same interleaved rounds: its p95 / p50 is what this machine alone
spreads a call of that length by. The `search's page, bare tool` row is a bare tool
returning a constant page of the same rows as the search (same output schema): what the SDK
alone spends on a result that size; search_prospects over it is what our server adds. The
`client's check` row times what the SDK's client does with each search result it receives:
check it against the tool's output schema with jsonschema (a share of every search call no
server can avoid but by returning less). Every tool call is audited as in production
(buffered writer running); the run fails unless each call left exactly one audit row.

Stores are seeded once with the demo generator (one tenant holding every account) and
reused by later runs: SQLite files under --work-dir, Postgres databases `sb_bench_crm_<N>`
on the server of --postgres-url (--fresh re-seeds). A reused store is migrated to this
version first (new indexes); after seeding or migrating, statistics are refreshed (ANALYZE;
on Postgres VACUUM ANALYZE, which index-only scans need). Once the clients are connected,
the startup objects are frozen out of the garbage collector's way, as `switchboard serve`
and `switchboard mcp` do (--no-freeze leaves them).

    uv run python bench/crm_tools.py --accounts 100000 --backend sqlite postgres
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path and bench/http.py would shadow the stdlib
# `http` (imported by mcp through httpx): put the repository root there instead. Append then
# remove takes out the first bench/ entry and leaves one at the end, behind the stdlib (the
# seed's child process imports this file without bench/ on its path).
sys.path.append(str(Path(__file__).resolve().parent))
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from sqlalchemy.engine import make_url

from orchestration.events.crm_sink import CrmEventSink
from servers.mcp.common.caller import CallerContext, Role, StaticCallerResolver
from servers.mcp.common.schema import simplify_schema
from servers.mcp.common.state import AppState
from servers.mcp.crm import build_crm_server
from servers.mcp.crm_models import ProspectPage, ProspectRow
from shared.config import Settings
from shared.crm.models import ProspectSearch
from shared.crm.repository import CrmRepository
from shared.crm.sql import SqlCrmRepository
from shared.db.database import Database
from shared.db.migrate import current_revision, upgrade
from shared.db.schema import accounts, audit_log, tenants
from shared.demo.plan import DemoParams
from shared.demo.seed import seed_demo
from shared.gc_tuning import freeze_startup_objects

DEFAULT_PG = os.environ.get(
    "SWITCHBOARD_TEST_DATABASE_URL",
    "postgresql://switchboard:switchboard@127.0.0.1:5432/switchboard_test",
)
SEARCH_ARGS: dict[str, Any] = {
    "industry": "dentist",
    "city": "Austin",
    "rating_min": 4.0,
    "lifecycle_stage": ["prospect", "lead"],
    "limit": 25,
}
QUERY_ARGS: dict[str, Any] = {
    "entity": "deals",
    "filters": [{"field": "stage", "op": "eq", "value": "won"}],
    "time_bucket": {"field": "closed_at", "unit": "month"},
    "metrics": [{"fn": "sum", "field": "amount"}, {"fn": "count"}],
}


def floor_server(page: ProspectPage) -> MCPServer[Any]:
    """Bare tools, nothing between the SDK and a constant: the framework floor (a string),
    and a page of search results (the same rows, output schema and wire form as the search
    it was taken from): what the SDK alone spends on a result of that size."""

    async def constant() -> str:
        return "ok"

    async def constant_page() -> ProspectPage:
        return page

    same_page = Tool.from_function(constant_page)
    assert same_page.fn_metadata.output_schema is not None
    # As the CRM server's tools have it (servers.mcp.common.tools.build_tools).
    same_page.fn_metadata.output_schema = simplify_schema(same_page.fn_metadata.output_schema)
    return MCPServer("floor", tools=[Tool.from_function(constant), same_page])


async def _timed(
    calls: int, warmup: int, call: Callable[[int], Awaitable[Any]]
) -> tuple[list[float], list[float]]:
    """Wall-clock and this process's CPU time of each call, in ms."""
    for i in range(warmup):
        await call(i)
    wall: list[float] = []
    cpu: list[float] = []
    for i in range(calls):
        started, started_cpu = time.perf_counter(), time.process_time()
        await call(i)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return wall, cpu


def _p(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples), cuts[94]


async def _refresh_statistics(db: Database) -> None:
    """Fresh planner statistics; on Postgres also the visibility map, without which an
    index-only scan (search's capped count) still visits the table for every row."""
    if db.target.is_sqlite:
        async with db.engine.connect() as conn:
            await conn.execute(sa.text("ANALYZE"))
            await conn.commit()
        return
    async with db.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text("VACUUM ANALYZE"))


async def _ensure_seeded(db: Database, size: int, fresh: bool) -> None:
    # A store seeded by an earlier version gets this version's migrations (new indexes).
    before = await current_revision(db.engine)
    if await upgrade(db.engine) != before and before is not None:
        print(f"  migrated the store from {before}; refreshing statistics", file=sys.stderr)
        await _refresh_statistics(db)
    async with db.engine.connect() as conn:
        demo = (
            await conn.execute(sa.select(tenants.c.id).where(tenants.c.name == "demo"))
        ).scalar()
        have = 0
        if demo is not None:
            have = (
                await conn.execute(
                    sa.select(sa.func.count())
                    .select_from(accounts)
                    .where(accounts.c.tenant_id == demo)
                )
            ).scalar_one()
    if have == size and not fresh:
        return
    print(f"  seeding {size:,} accounts (once; reused by later runs)...", file=sys.stderr)
    started = time.perf_counter()
    params = DemoParams(seed=1, accounts=size, tenants=1, as_of=datetime.now(UTC))
    await seed_demo(db, params, replace=True)
    await _refresh_statistics(db)
    print(f"  seeded in {time.perf_counter() - started:.0f} s", file=sys.stderr)


async def _audit_rows(db: Database) -> int:
    async with db.engine.connect() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(audit_log))).scalar_one()


async def _postgres_url(base: str, size: int, fresh: bool) -> str:
    name = f"sb_bench_crm_{size}"
    admin = Database.from_url(
        make_url(base).set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    async with admin.engine.connect() as conn:
        exists = (
            await conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        ).scalar()
        if exists and fresh:
            await conn.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
            exists = None
        if not exists:
            await conn.execute(sa.text(f"CREATE DATABASE {name}"))
    await admin.dispose()
    return make_url(base).set(database=name).render_as_string(hide_password=False)


async def bench_store(
    url: str, size: int, args: argparse.Namespace
) -> dict[str, tuple[float, float, float]]:
    """Per series: wall p50, wall p95, median CPU ms of this process per call."""
    db = Database.from_url(url)
    try:
        await _ensure_seeded(db, size, args.fresh)
        async with db.engine.connect() as conn:
            tenant_id = (
                await conn.execute(sa.select(tenants.c.id).where(tenants.c.name == "demo"))
            ).scalar_one()
            ids = [
                str(row[0])
                for row in await conn.execute(
                    sa.select(accounts.c.id).where(accounts.c.tenant_id == tenant_id).limit(20_000)
                )
            ]
        random.Random(7).shuffle(ids)

        async def repository(tenant: uuid.UUID) -> CrmRepository:
            return SqlCrmRepository(db, tenant, change_sink=CrmEventSink(db, tenant))

        state = AppState(
            settings=Settings(database_url=url),
            database=db,
            resolver=StaticCallerResolver(CallerContext(tenant_id=tenant_id, role=Role.ADMIN)),
            repository_factory=repository,
        )
        direct = await repository(tenant_id)
        direct_search = ProspectSearch.model_validate({**SEARCH_ARGS, "industry": ["dentist"]})
        found = await direct.search_accounts(direct_search)
        page = ProspectPage(
            items=ProspectRow.from_summaries(found.items),
            total=found.total,
            total_at_least=found.total_at_least,
            next_cursor=found.next_cursor,
        )
        results: dict[str, tuple[float, float, float]] = {}
        audited_before = await _audit_rows(db)
        calls = 0
        # The audit writer runs as it does in the stdio server and the HTTP app: each call's
        # row is buffered and written in batches by a background task on this loop.
        async with (
            state.audit.running() if not args.sync_audit else contextlib.nullcontext(),
            Client(floor_server(page)) as floor,
            Client(build_crm_server(state=state)) as crm,
        ):

            async def constant(_: int) -> None:
                await floor.call_tool("constant", {})

            async def constant_page(_: int) -> None:
                await floor.call_tool("constant_page", {})

            async def search(i: int) -> None:
                nonlocal calls
                calls += 1
                result = await crm.call_tool("search_prospects", SEARCH_ARGS)
                assert not result.is_error, result.content

            async def get(i: int) -> None:
                nonlocal calls
                calls += 1
                result = await crm.call_tool("get_account", {"account_id": ids[i % len(ids)]})
                assert not result.is_error, result.content

            async def query(i: int) -> None:
                nonlocal calls
                calls += 1
                result = await crm.call_tool("query_crm", QUERY_ARGS)
                assert not result.is_error, result.content

            # What the SDK's client does with every result: check it against the tool's
            # output schema (jsonschema), here on a search page of the same size.
            search_page = await crm.call_tool("search_prospects", SEARCH_ARGS)
            calls += 1

            async def client_check(_: int) -> None:
                await crm.session.validate_tool_result("search_prospects", search_page)

            async def repo_search(_: int) -> None:
                await direct.search_accounts(direct_search)

            async def repo_get(i: int) -> None:
                await direct.get_account(uuid.UUID(ids[i % len(ids)]))

            fixed_work = _calibrated_work(FIXED_WORK_MS)

            async def host(_: int) -> None:
                fixed_work()

            if not args.no_freeze:
                # As `switchboard serve` and `switchboard mcp` do once wiring is done: the
                # collector stops re-walking what lives as long as the process.
                freeze_startup_objects()
            # Interleave rounds so load spikes on a shared machine hit every series alike.
            runs: dict[str, tuple[int, Callable[[int], Awaitable[Any]]]] = {
                "floor": (3, constant),
                "same_page": (3, constant_page),
                "search": (3, search),
                "get": (3, get),
                "query": (1, query),
                "repo_search": (3, repo_search),
                "repo_get": (3, repo_get),
                "client_check": (3, client_check),
                "host": (3, host),
            }
            wall: dict[str, list[float]] = {name: [] for name in runs}
            cpu: dict[str, list[float]] = {name: [] for name in runs}
            rounds = 5
            per_round = max(1, args.calls // rounds)
            for _ in range(rounds):
                for name, (warmup, call) in runs.items():
                    count = max(1, per_round // 4) if name == "query" else per_round
                    round_wall, round_cpu = await _timed(count, warmup, call)
                    wall[name] += round_wall
                    cpu[name] += round_cpu
            for name in runs:
                results[name] = (*_p(wall[name]), statistics.median(cpu[name]))
        audited = await _audit_rows(db) - audited_before
        if audited != calls:  # the figures are only honest if every call was audited
            raise RuntimeError(f"{calls} tool calls left {audited} audit rows")
        return results
    finally:
        await db.dispose()


async def main(args: argparse.Namespace) -> None:
    print(
        f"{'backend':<9}{'accounts':>10}  {'tool':<28}{'p50 ms':>8}{'p95 ms':>8}{'p95-floor':>11}"
        f"{'CPU ms':>8}"
    )
    for size in args.accounts:
        for backend in args.backend:
            if backend == "sqlite":
                args.work_dir.mkdir(parents=True, exist_ok=True)
                path = args.work_dir / f"crm-bench-{size}.sqlite3"
                if args.fresh:  # a new file, so it gets the current schema, not just new rows
                    for stale in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm"))):
                        stale.unlink(missing_ok=True)
                url = f"sqlite:///{path}"
            else:
                url = await _postgres_url(args.postgres_url, size, args.fresh)
            results = await bench_store(url, size, args)
            floor_p95 = results["floor"][1]
            labels = {
                "floor": "bare tool (floor)",
                "same_page": "  search's page, bare tool",
                "search": "search_prospects",
                "get": "get_account",
                "query": "query_crm (won by month)",
                "repo_search": "  data source alone: search",
                "repo_get": "  data source alone: get",
                "client_check": "  client's check: search",
                "host": f"  host: {FIXED_WORK_MS:g} ms of fixed work",
            }
            for key, label in labels.items():
                p50, p95, cpu = results[key]
                if key == "host":  # how much this machine alone spreads a fixed workload
                    delta = f"x{p95 / p50:.2f}"
                elif key in ("floor", "client_check") or key.startswith("repo"):
                    delta = ""
                else:
                    delta = f"{p95 - floor_p95:+.2f}"
                print(
                    f"{backend:<9}{size:>10,}  {label:<28}{p50:>8.2f}{p95:>8.2f}{delta:>11}"
                    f"{cpu:>8.2f}"
                )
            sys.stdout.flush()


FIXED_WORK_MS = 4.0  # about a search_prospects call's CPU time


def _calibrated_work(ms: float) -> Callable[[], int]:
    """A pure-Python loop that takes `ms` of CPU at this machine's best speed: its p95 over
    its p50 is the spread the host alone adds to any call of that length (the host's speed
    changes from second to second; the rounds are interleaved with the tools')."""

    def spin(n: int) -> int:
        total = 0
        for i in range(n):
            total += i * i % 7
        return total

    probe = 20_000
    best = min(_cpu_time(lambda: spin(probe)) for _ in range(20))
    iterations = max(1, int(probe * ms / 1000 / best))
    return lambda: spin(iterations)


def _cpu_time(work: Callable[[], object]) -> float:
    start = time.process_time()
    work()
    return time.process_time() - start


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--accounts",
        type=int,
        nargs="+",
        default=[100_000],
        help="store sizes (accounts in the demo tenant); default 100000",
    )
    parser.add_argument(
        "--backend", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"]
    )
    parser.add_argument("--calls", type=int, default=200, help="timed calls per tool")
    parser.add_argument(
        "--work-dir", type=Path, default=Path.home() / ".cache" / "switchboard-ci" / "bench"
    )
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_PG,
        help="server (any database on it) for the bench databases",
    )
    parser.add_argument("--fresh", action="store_true", help="re-seed even if seeded")
    parser.add_argument(
        "--sync-audit",
        action="store_true",
        help="write each audit row on the request path, in its own transaction (as before "
        "the buffered writer), to see what buffering saves",
    )
    parser.add_argument(
        "--no-freeze",
        action="store_true",
        help="leave the startup objects to the garbage collector (the servers freeze them)",
    )
    return parser.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
