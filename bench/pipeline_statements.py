"""What each queue statement costs the Postgres server per event, beside pgqueuer's.

    uv run python bench/pipeline_statements.py [--url postgresql://...] [--events 10000]

One connection, one statement at a time, nothing running concurrently in the bench, so each
statement's server CPU (the backend process's user + system time, read around the call)
is its own. Ours: the worker's claim (batches of 50) and its acknowledgement, once without
and once with the execution rows the acknowledgement inserts (what bench/pipeline_floor.py
and `switchboard worker` write for a one-step run). pgqueuer's: its dequeue and its
completion (`log_jobs`: the job deleted and logged). Creates a throwaway database next to
the one in --url, dropped at the end.

Read beside bench/pipeline.py: on a saturated 2-core machine a drain's rate is bounded by
the machine's CPU per event, and this is the Postgres part of it.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent  # bench/http.py would shadow the standard library's
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Awaitable, Callable  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

import asyncpg  # noqa: E402  # pyright: ignore[reportMissingTypeStubs]
import psutil  # noqa: E402
from sqlalchemy.dialects.postgresql import asyncpg as postgresql_asyncpg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.pipeline_floor import (  # noqa: E402
    ACTIVE_DEFINITIONS,
    ONE_STEP_WORKFLOW,
    Definitions,
    batch_writes,
)
from orchestration.events.models import CustomerEvent  # noqa: E402
from orchestration.events.publish_batch import publish_batch_in  # noqa: E402
from orchestration.queue.claim import CLAIM_POSTGRES, QUEUE_PLANNER_SETTINGS  # noqa: E402
from orchestration.queue.pg_complete import CompletionStatements, complete_postgres  # noqa: E402
from orchestration.workflows.store import save_definition  # noqa: E402
from shared.db.database import Database  # noqa: E402
from shared.db.migrate import upgrade  # noqa: E402
from shared.tenants import create_tenant  # noqa: E402

BATCH = 50


class BackendCpu:
    """Server CPU seconds spent by one connection's backend, statement by statement."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.spent: dict[str, float] = {}

    def _now(self) -> float:
        times = self._process.cpu_times()
        return times.user + times.system

    async def timed(self, name: str, call: Callable[[], Awaitable[Any]]) -> Any:
        before = self._now()
        result = await call()
        self.spent[name] = self.spent.get(name, 0.0) + self._now() - before
        return result

    def line(self, label: str, n: int) -> str:
        parts = [f"{name} {seconds / n * 1e6:5.1f}" for name, seconds in self.spent.items()]
        total = sum(self.spent.values()) / n * 1e6
        return f"  {label:44} {' + '.join(parts)} = {total:5.1f} us per event"


async def _queue(db: Database, n: int) -> None:
    tenant = (await create_tenant(db, f"t{uuid.uuid4().hex[:6]}")).id
    await save_definition(db, tenant, ONE_STEP_WORKFLOW)
    async with db.transaction() as conn:
        for start in range(0, n, 500):
            events = [
                CustomerEvent(tenantId=tenant, eventType="deal_closed")
                for _ in range(min(500, n - start))
            ]
            await publish_batch_in(conn, events)


async def ours(db: Database, url: str, n: int, *, with_executions: bool) -> str:
    await _queue(db, n)
    conn: Any = await asyncpg.connect(url, server_settings=dict(QUEUE_PLANNER_SETTINGS))
    try:
        await conn.execute("VACUUM ANALYZE event_queue")
        definitions: Definitions = {}
        for row in await conn.fetch(ACTIVE_DEFINITIONS):
            definitions.setdefault((row["tenant_id"], row["event_type"]), []).append(row)
        cpu = BackendCpu(await conn.fetchval("SELECT pg_backend_pid()"))
        claim = await conn.prepare(CLAIM_POSTGRES)
        statements = CompletionStatements(postgresql_asyncpg.dialect())
        done_count = 0
        while rows := await cpu.timed(
            "claim", lambda: claim.fetch(datetime.now(UTC), "bench", BATCH, BATCH)
        ):
            executions, results = batch_writes(rows, definitions)
            done = [(r["id"], r["attempts"], x) for r, x in zip(rows, results, strict=True)]
            await cpu.timed(
                "acknowledgement" + (" with executions" if with_executions else ""),
                lambda: complete_postgres(
                    conn,
                    worker_id="bench",
                    now=datetime.now(UTC),
                    done=done,  # noqa: B023 (awaited before the loop moves on)
                    executions=executions if with_executions else (),  # noqa: B023
                    statements=statements,
                ),
            )
            done_count += len(rows)
        if done_count != n:
            raise SystemExit(f"{n} events queued, {done_count} claimed and acknowledged")
        await conn.execute("DELETE FROM workflow_executions; DELETE FROM event_queue")
        label = "ours, with execution rows" if with_executions else "ours, queue alone"
        return cpu.line(label, done_count)
    finally:
        await conn.close()


async def pgqueuer(url: str, n: int) -> str:
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.ports.repository import EntrypointExecutionParameter
    from pgqueuer.queries import Queries

    conn: Any = await asyncpg.connect(url)
    try:
        queries = Queries(AsyncpgDriver(conn))
        if not await queries.schema_is_installed():
            await queries.install()
        await queries.enqueue(["noop"] * n, [None] * n, [0] * n)
        await conn.execute("VACUUM ANALYZE pgqueuer")
        cpu = BackendCpu(await conn.fetchval("SELECT pg_backend_pid()"))
        manager: Any = uuid.uuid4()
        entrypoints: Any = {"noop": EntrypointExecutionParameter(0)}
        done_count = 0
        while jobs := await cpu.timed(
            "dequeue",
            lambda: queries.dequeue(BATCH, entrypoints, manager, None, timedelta(seconds=30)),
        ):
            finished: Any = [(job, "successful", None) for job in jobs]
            await cpu.timed("log_jobs", lambda: queries.log_jobs(finished))  # noqa: B023
            done_count += len(jobs)
        if done_count != n:
            raise SystemExit(f"{n} jobs queued, {done_count} dequeued and logged")
        return cpu.line("pgqueuer, no-op jobs", done_count)
    finally:
        await conn.close()


async def main(url: str, n: int, rounds: int) -> None:
    base = make_url(url)
    name = f"sb_bench_{uuid.uuid4().hex[:8]}"
    admin: Any = await asyncpg.connect(
        base.set(drivername="postgresql", database="postgres").render_as_string(False)
    )
    await admin.execute(f"CREATE DATABASE {name}")
    plain = base.set(drivername="postgresql", database=name).render_as_string(False)
    db = Database.from_url(
        base.set(drivername="postgresql+asyncpg", database=name).render_as_string(False)
    )
    try:
        await upgrade(db.engine)
        print(f"Postgres server CPU per event, {n} events, batches of {BATCH}, one connection")
        for round_number in range(1, rounds + 1):
            print(f"round {round_number}")
            print(await pgqueuer(plain, n))
            print(await ours(db, plain, n, with_executions=False))
            print(await ours(db, plain, n, with_executions=True))
    finally:
        await db.dispose()
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


def cli() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "SWITCHBOARD_TEST_DATABASE_URL",
            "postgresql://switchboard:switchboard@127.0.0.1:5432/switchboard_test",
        ),
        help="Postgres server (a database is created next to this one)",
    )
    parser.add_argument("--events", type=int, default=10_000, help="Events per series")
    parser.add_argument("--rounds", type=int, default=3, help="Interleaved rounds")
    args: Any = parser.parse_args()
    asyncio.run(main(args.url, args.events, args.rounds))


if __name__ == "__main__":
    cli()
