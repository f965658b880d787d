"""Event pipeline benchmark on Postgres: throughput beside pgqueuer, latency, fairness.

    uv sync --group bench
    uv run python bench/pipeline.py [--url postgresql://...] [--events 20000]

Creates a throwaway database next to the one in --url (dropped at the end). Workers run
as separate processes (`switchboard worker`'s own code path) so two workers really use
two cores. Figures:

- throughput: events/s draining N queued events with 1 and 2 worker processes, beside
  pgqueuer draining N no-op jobs with 1 and 2 processes on the same server in the same run,
  and the ratio. Two figures for us: the whole pipeline as `switchboard worker` runs it
  (claim -> match the event to an active definition -> execution row -> one internal
  `noop` step -> execution and event completed; the worker runtime with routing, the
  issue's figure), the queue alone (claim -> a handler that returns at once -> ack), and the
  pipeline floor (bench/pipeline_floor.py: the same claim, execution row and completion
  with raw asyncpg and none of the worker's features: what the tables' own work allows),
  and that floor again on stripped tables (bench/stripped_tables.py: the optional indexes
  and the executions' foreign keys dropped for the run: below what the spec allows).
  Each drain prints the machine's CPU per event (every process, from /proc/stat) and its
  split between the worker processes and the bench database's Postgres backends
  (bench/drain_cpu.py): on 2 cores, what that sum allows bounds a ratio whatever the
  worker's own speed;
- publish rate: publish() calls/s (validated, deduplicated, one transaction each);
- latency to handler start for critical events, idle worker (one publish() a time) and at
  1,000/s sustained (several publisher processes, each committing the events due so far
  in one transaction with publish_batch_in, as often as its commits allow). Two figures each: from
  the publish() call (includes the publisher's durable commit, an fsync) and from the
  moment the commit was acknowledged (what the queue itself adds);
- fairness: a small tenant's critical event during another tenant's 10,000-event burst.

The latency and fairness runs use a handler that records when it started (--handler
module:factory, called with the Database, measures another one).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ is first on sys.path and its http.py would shadow the standard
# library's `http` (imported by httpx in the worker processes): take bench/ off the path.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

import asyncpg  # noqa: E402  # pyright: ignore[reportMissingTypeStubs]
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.drain_cpu import Drain, DrainMeter  # noqa: E402
from bench.pipeline_floor import ONE_STEP_WORKFLOW, run_floor_worker  # noqa: E402
from bench.stripped_tables import stripped_tables  # noqa: E402
from orchestration.events.models import CustomerEvent, EventPriority  # noqa: E402
from orchestration.events.publish import publish, publish_in  # noqa: E402
from orchestration.events.publish_batch import publish_batch_in  # noqa: E402
from orchestration.queue.config import QueueConfig  # noqa: E402
from orchestration.queue.types import (  # noqa: E402
    ClaimedEvent,
    EventHandler,
    HandlerOutcome,
    OutcomeKind,
)
from orchestration.workflows.store import save_definition  # noqa: E402
from shared.db.database import Database  # noqa: E402
from shared.db.migrate import upgrade  # noqa: E402
from shared.gc_tuning import freeze_startup_objects  # noqa: E402
from shared.tenants import create_tenant  # noqa: E402

DEFAULT_URL = os.environ.get(
    "SWITCHBOARD_TEST_DATABASE_URL",
    "postgresql://switchboard:switchboard@127.0.0.1:5432/switchboard_test",
)


# -- the worker processes ------------------------------------------------------------------


def noop_handler(db: Database) -> EventHandler:
    """Completes at once; records when it started, for events that carry their send time."""

    async def handler(event: ClaimedEvent) -> HandlerOutcome:
        started = time.time()
        result = {"started": started} if "t" in event.event_data else None
        return HandlerOutcome(OutcomeKind.COMPLETED, result=result)

    return handler


async def _our_worker(url: str, handler_spec: str, concurrency: int, batch: int) -> None:
    from contextlib import AsyncExitStack

    from orchestration.runtime import open_worker_runtime
    from servers.cli.worker import load_handler
    from shared.config import Settings

    db = Database.from_url(url)
    async with AsyncExitStack() as stack:
        if handler_spec == "workflow":  # what `switchboard worker` runs
            runtime = await stack.enter_async_context(
                open_worker_runtime(Settings(database_url=url), db)
            )
            handler = runtime.handler
        elif handler_spec == "noop":
            handler = noop_handler(db)
        else:
            handler = load_handler(handler_spec, db)
        await _run_worker(db, handler, concurrency, batch)
    await db.dispose()


async def _run_worker(db: Database, handler: EventHandler, concurrency: int, batch: int) -> None:
    import anyio

    from orchestration.worker import create_worker

    config = QueueConfig(concurrency=concurrency, batch_size=batch, poll_interval_s=1.0)
    worker = create_worker(db, handler, config=config)
    freeze_startup_objects()  # as `switchboard worker` does
    async with anyio.create_task_group() as tg:

        async def stop_on_term() -> None:
            with anyio.open_signal_receiver(signal.SIGTERM) as signals:
                async for _ in signals:
                    worker.stop()
                    return

        tg.start_soon(stop_on_term)

        async def announce() -> None:  # ready once LISTEN is up: no event waits for a poll
            while not worker.wakeup.listening:  # type: ignore[attr-defined]  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            print("ready", flush=True)

        tg.start_soon(announce)
        await worker.run()
        tg.cancel_scope.cancel()


async def _publisher(url: str, tenant: str, rate: float, seconds: float, out: str) -> None:
    """Publish critical events at `rate`/s for `seconds`: the events due so far in one
    transaction (publish_batch_in: one multi-row INSERT), as often as commits allow.
    Writes [event_id, call time, commit-acknowledged time] per event."""
    db = Database.from_url(url)
    tenant_id = uuid.UUID(tenant)
    sent: list[tuple[str, float, float]] = []
    total = int(rate * seconds)
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # "go": every publisher starts together
    began = time.time()
    while len(sent) < total:
        due = min(total, int((time.time() - began) * rate) + 1)
        batch = [
            CustomerEvent(
                tenantId=tenant_id,
                eventType="churn_risk_detected",
                priority=EventPriority.CRITICAL,
                eventData={"t": time.time()},
            )
            for _ in range(due - len(sent))
        ]
        async with db.transaction() as conn:
            await publish_batch_in(conn, batch)
        committed = time.time()
        sent += [(e.event_id, e.event_data["t"], committed) for e in batch]
        await asyncio.sleep(max(0.0, began + len(sent) / rate - time.time()))
    _save(out, sent)
    await db.dispose()


def _save(path: str, sent: list[tuple[str, float, float]]) -> None:
    Path(path).write_text(json.dumps(sent))


def _load(paths: list[str]) -> list[tuple[str, float, float]]:
    return [(e, t, c) for path in paths for e, t, c in json.loads(Path(path).read_text())]


async def _pgqueuer_worker(url: str, batch: int) -> None:
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.models import Job
    from pgqueuer.qm import QueueManager
    from pgqueuer.queries import Queries

    conn = await asyncpg.connect(url)
    qm = QueueManager(Queries(AsyncpgDriver(conn)))

    @qm.entrypoint("noop")
    async def _noop(job: Job) -> None:  # pyright: ignore[reportUnusedFunction]
        return None

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, qm.shutdown.set)
    print("ready", flush=True)
    await qm.run(batch_size=batch)
    await conn.close()


def _spawn(*args: str) -> subprocess.Popen[str]:  # a worker (or publisher) process
    proc = subprocess.Popen(
        [sys.executable, __file__, "_worker", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # wait until it is listening
    if line.strip() != "ready":
        proc.kill()
        raise SystemExit(f"a worker failed to start: {line!r}")
    return proc


def _spawn_publisher(
    url: str, tenant_id: uuid.UUID, rate: float, seconds: float, out: str
) -> subprocess.Popen[str]:
    args = ["_publisher", url, str(tenant_id), str(rate), str(seconds), out]
    proc = subprocess.Popen(
        [sys.executable, __file__, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # "ready": connected
    return proc


def _stop(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        if proc.stdout is not None:
            proc.stdout.close()


# -- measurements --------------------------------------------------------------------------


async def _count(conn: asyncpg.Connection, query: str) -> int:
    value: Any = await conn.fetchval(query)
    return int(value or 0)


async def _last_update(conn: asyncpg.Connection) -> float:
    value: Any = await conn.fetchval("SELECT max(updated_at) FROM event_queue")
    return float(value.timestamp())


# A drained queue is found with index probes, not counts: on this 2-core machine a count(*)
# over 20,000 event rows every 20 ms took 8-12 ms of a server core each time, CPU the run
# under test then lacked (and pgqueuer's table shrinks as it drains while ours does not).
# The probe connection turns sequential scans off: right after a reset the statistics say
# the table is empty, and a probe planned as a scan would read every row again.
_OURS_BUSY = (
    "SELECT EXISTS (SELECT 1 FROM event_queue WHERE status = 'pending')"
    " OR EXISTS (SELECT 1 FROM event_queue WHERE status = 'processing')"
)
_PGQUEUER_BUSY = "SELECT EXISTS (SELECT 1 FROM pgqueuer)"


async def _wait_drained(probe: asyncpg.Connection, busy: str, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while await probe.fetchval(busy):
        if time.monotonic() > deadline:
            raise SystemExit(f"the queue did not drain in {limit_s:.0f} s")
        await asyncio.sleep(0.02)


async def _probe_connection(url: str) -> asyncpg.Connection:
    conn: asyncpg.Connection = await asyncpg.connect(  # pyright: ignore[reportUnknownMemberType]
        url, server_settings={"enable_seqscan": "off"}
    )
    return conn


async def _wait_until(conn: asyncpg.Connection, query: str, target: int, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while await _count(conn, query) < target:
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for: {query}")
        await asyncio.sleep(0.02)


async def _reset(db: Database) -> None:
    """Empty the queue and the executions and vacuum them, so each run starts like a
    steady-state table rather than behind the previous run's dead index entries
    (autovacuum's job in production)."""
    async with db.transaction() as conn:
        await conn.execute(sa.text("DELETE FROM workflow_executions"))
        await conn.execute(sa.text("DELETE FROM event_queue"))
    async with db.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(sa.text("VACUUM ANALYZE event_queue"))
        await conn.execute(sa.text("VACUUM ANALYZE workflow_executions"))


async def _check_executions(raw: asyncpg.Connection, n: int) -> None:
    """The whole-pipeline figure counts only if every event ran its workflow once."""
    done = await _count(
        raw,
        "SELECT count(DISTINCT trigger_event_id) FROM workflow_executions "
        "WHERE status = 'completed'",
    )
    rows = await _count(raw, "SELECT count(*) FROM workflow_executions")
    if done != n or rows != n:
        raise SystemExit(f"{n} events left {rows} executions, {done} completed")


async def _enqueue_ours(db: Database, tenant_id: uuid.UUID, n: int) -> None:
    async with db.transaction() as conn:  # commits (and NOTIFYs) once, at the end
        for _ in range(n):
            await publish_in(conn, CustomerEvent(tenantId=tenant_id, eventType="deal_closed"))


async def throughput_ours(
    db: Database, raw: asyncpg.Connection, url: str, tenant_id: uuid.UUID, n: int,
    workers: int, handler: str, kind: str = "ours",
) -> Drain:  # fmt: skip
    """`kind` "floor": bench/pipeline_floor.py's featureless worker on a plain URL."""
    await _reset(db)
    procs = [_spawn(kind, url, handler, "100", "50") for _ in range(workers)]
    probe = await _probe_connection(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await _enqueue_ours(db, tenant_id, n)
        meter = DrainMeter(probe, [proc.pid for proc in procs])
        start = time.time()
        await meter.start()
        await _wait_drained(probe, _OURS_BUSY, 600)
        drained = await meter.drained(n, time.time() - start)
        done = await _count(raw, "SELECT count(*) FROM event_queue WHERE status = 'completed'")
        if done != n:
            raise SystemExit(f"{n} events queued, {done} completed")
        # The rate from the last event's completion: the probe polls every 20 ms.
        return dataclasses.replace(drained, rate=n / (await _last_update(raw) - start))
    finally:
        await probe.close()
        _stop(procs)


async def throughput_pgqueuer(raw: asyncpg.Connection, url: str, n: int, workers: int) -> Drain:
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.queries import Queries

    queries = Queries(AsyncpgDriver(raw))
    if not await queries.schema_is_installed():
        await queries.install()
    await raw.execute("DELETE FROM pgqueuer")
    await raw.execute("VACUUM ANALYZE pgqueuer")
    procs = [_spawn("pgqueuer", url, "noop", "100", "50") for _ in range(workers)]
    probe = await _probe_connection(url)
    try:
        await queries.enqueue(["noop"] * n, [None] * n, [0] * n)
        meter = DrainMeter(probe, [proc.pid for proc in procs])
        start = time.time()
        await meter.start()
        await _wait_drained(probe, _PGQUEUER_BUSY, 600)
        return await meter.drained(n, time.time() - start)
    finally:
        await probe.close()
        _stop(procs)


async def publish_rate(db: Database, tenant_id: uuid.UUID, n: int, concurrency: int) -> float:
    await _reset(db)

    async def publisher(count: int) -> None:
        for _ in range(count):
            await publish(db, CustomerEvent(tenantId=tenant_id, eventType="lead_qualified"))

    start = time.perf_counter()
    await asyncio.gather(*(publisher(n // concurrency) for _ in range(concurrency)))
    return (n // concurrency * concurrency) / (time.perf_counter() - start)


async def _started(raw: asyncpg.Connection, tenant_id: uuid.UUID) -> dict[str, float]:
    rows = await raw.fetch(
        "SELECT event_id, (processing_result->>'started')::float8 AS started FROM event_queue "
        "WHERE tenant_id = $1 AND processing_result ? 'started'",
        tenant_id,
    )
    return {r["event_id"]: r["started"] for r in rows}


def _pct(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


@dataclass
class Latency:
    achieved: float  # events/s the publishers reached
    call: tuple[float, float]  # p50, p99 ms from the publish() call
    commit: tuple[float, float]  # p50, p99 ms from the commit's acknowledgement
    publish: tuple[float, float]  # p50, p99 ms the publisher's transaction took

    def line(self) -> str:
        return (
            f"from publish() p50 {self.call[0]:6.2f} p99 {self.call[1]:6.2f} | "
            f"from commit p50 {self.commit[0]:6.2f} p99 {self.commit[1]:6.2f} | "
            f"publish() itself p50 {self.publish[0]:5.2f} p99 {self.publish[1]:6.2f}"
        )


def _summarise(sent: list[tuple[str, float, float]], started: dict[str, float]) -> Latency:
    call = sorted((started[e] - t) * 1000 for e, t, _ in sent)
    commit = sorted((started[e] - c) * 1000 for e, _, c in sent)
    publish_ms = sorted((c - t) * 1000 for _, t, c in sent)
    span = max(c for _, _, c in sent) - min(t for _, t, _ in sent)
    return Latency(
        achieved=len(sent) / span,
        call=(_pct(call, 50), _pct(call, 99)),
        commit=(_pct(commit, 50), _pct(commit, 99)),
        publish=(_pct(publish_ms, 50), _pct(publish_ms, 99)),
    )


async def _warm_up(db: Database, raw: asyncpg.Connection, tenant_id: uuid.UUID) -> None:
    """Prepare the worker's statements and fill its pool, as in a running deployment."""
    for _ in range(20):
        await publish(db, CustomerEvent(tenantId=tenant_id, eventType="deal_closed"))
    await _wait_until(raw, "SELECT count(*) FROM event_queue WHERE status = 'completed'", 20, 60)


async def latency_idle(
    db: Database, raw: asyncpg.Connection, url: str, tenant_id: uuid.UUID, warm: uuid.UUID, *,
    n: int, handler: str,
) -> Latency:  # fmt: skip
    """One publish() at a time, 20 ms apart: the worker is idle whenever an event arrives."""
    await _reset(db)
    procs = [_spawn("ours", url, handler, "50", "50")]
    try:
        await _warm_up(db, raw, warm)
        sent: list[tuple[str, float, float]] = []
        for _ in range(n):
            event = CustomerEvent(
                tenantId=tenant_id,
                eventType="churn_risk_detected",
                priority=EventPriority.CRITICAL,
                eventData={"t": time.time()},
            )
            await publish(db, event)
            sent.append((event.event_id, event.event_data["t"], time.time()))
            await asyncio.sleep(0.02)
        await _wait_until(
            raw, "SELECT count(*) FROM event_queue WHERE status = 'completed'", n + 20, 120
        )
        return _summarise(sent, await _started(raw, tenant_id))
    finally:
        _stop(procs)


async def latency_sustained(
    db: Database, raw: asyncpg.Connection, url: str, tenant_id: uuid.UUID, warm: uuid.UUID, *,
    rate: float, seconds: float, publishers: int, handler: str,
) -> Latency:  # fmt: skip
    """`publishers` processes together publishing `rate` critical events/s for `seconds`."""
    await _reset(db)
    procs = [_spawn("ours", url, handler, "50", "50")]
    with tempfile.TemporaryDirectory() as tmp:
        outs = [str(Path(tmp) / f"sent-{i}.json") for i in range(publishers)]
        try:
            await _warm_up(db, raw, warm)
            share = rate / publishers
            pubs = [_spawn_publisher(url, tenant_id, share, seconds, out) for out in outs]
            for pub in pubs:
                assert pub.stdin is not None
                pub.stdin.write("go\n")
                pub.stdin.close()
            for pub in pubs:
                if pub.wait(seconds * 10 + 60) != 0:
                    raise SystemExit("a publisher process failed")
                if pub.stdout is not None:
                    pub.stdout.close()
            sent = _load(outs)
            await _wait_until(
                raw,
                "SELECT count(*) FROM event_queue WHERE status = 'completed'",
                len(sent) + 20,
                120,
            )
            return _summarise(sent, await _started(raw, tenant_id))
        finally:
            _stop(procs)


async def fairness(
    db: Database, raw: asyncpg.Connection, url: str, big: uuid.UUID, small: uuid.UUID,
    burst: int, handler: str,
) -> tuple[float, float]:  # fmt: skip
    """(small tenant's critical latency ms, time to drain the burst s)."""
    await _reset(db)
    procs = [_spawn("ours", url, handler, "50", "50")]
    try:
        async with db.transaction() as conn:
            for _ in range(burst):
                event = CustomerEvent(
                    tenantId=big, eventType="lead_qualified", priority=EventPriority.CRITICAL
                )
                await publish_in(conn, event)
        start = time.time()  # the burst becomes visible (and NOTIFYs) at this commit
        await asyncio.sleep(0.05)  # the burst is being worked on
        critical = CustomerEvent(
            tenantId=small,
            eventType="churn_risk_detected",
            priority=EventPriority.CRITICAL,
            eventData={"t": time.time()},
        )
        await publish(db, critical)
        await _wait_until(
            raw, "SELECT count(*) FROM event_queue WHERE status = 'completed'", burst + 1, 300
        )
        started = await _started(raw, small)
        return (started[critical.event_id] - critical.event_data["t"]) * 1000, await _last_update(
            raw
        ) - start
    finally:
        _stop(procs)


# -- the run -------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    base = make_url(args.url)
    name = f"sb_bench_{uuid.uuid4().hex[:8]}"
    admin = base.set(drivername="postgresql", database="postgres")
    admin_conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    await admin_conn.execute(f"CREATE DATABASE {name}")
    url = base.set(database=name).render_as_string(hide_password=False)
    plain_url = base.set(drivername="postgresql", database=name).render_as_string(
        hide_password=False
    )
    db = Database.from_url(url)
    raw = await asyncpg.connect(plain_url)
    try:
        await upgrade(db.engine)
        big = (await create_tenant(db, "big")).id
        small = (await create_tenant(db, "small")).id
        n, handler = args.events, args.handler
        print(f"Postgres {await raw.fetchval('SHOW server_version')}, {os.cpu_count()} CPUs, "
              f"{n} events, handler {handler}")  # fmt: skip
        await save_definition(db, big, ONE_STEP_WORKFLOW)
        print("\nthroughput (drain N queued events; events/s)")
        for workers in () if args.skip_throughput else (1, 2):
            whole = await throughput_ours(db, raw, url, big, n, workers, "workflow")
            await _check_executions(raw, n)
            alone = await throughput_ours(db, raw, url, big, n, workers, "noop")
            floor = await throughput_ours(db, raw, plain_url, big, n, workers, "", "floor")
            await _check_executions(raw, n)
            async with stripped_tables(raw):
                bare = await throughput_ours(db, raw, plain_url, big, n, workers, "", "floor")
                await _check_executions(raw, n)
            theirs = (
                await throughput_pgqueuer(raw, plain_url, n, workers)
                if not args.skip_pgqueuer
                else Drain(float("nan"), float("nan"))
            )
            print(f"  {workers} worker(s): pgqueuer {theirs.rate:8.0f}{'':16}"
                  f"{theirs.cpu_line()} per job")  # fmt: skip
            for label, ours in (("whole pipeline (one-step workflow)", whole),
                                ("queue alone (no-op handler)", alone),
                                ("pipeline floor (same writes, no features)", floor),
                                ("floor on stripped tables (below the spec)", bare)):  # fmt: skip
                print(f"    {label:42} {ours.rate:8.0f}   ratio {ours.rate / theirs.rate:5.2f}"
                      f"   {ours.cpu_line()}")  # fmt: skip
        if args.skip_latency:
            return
        rate = await publish_rate(db, big, min(n, 5000), 8)
        print(f"\npublish(): {rate:.0f} events/s (8 concurrent publishers, a commit each)")
        print("\nlatency to handler start, critical events (ms)")
        idle = await latency_idle(db, raw, url, small, big, n=args.idle_events, handler=handler)
        print(f"  idle worker ({idle.achieved:.0f}/s): {idle.line()}")
        loaded = await latency_sustained(
            db, raw, url, small, big, rate=args.rate, seconds=args.sustain_s,
            publishers=args.publishers, handler=handler,
        )  # fmt: skip
        print(
            f"  sustained ({loaded.achieved:.0f}/s achieved of {args.rate:.0f}/s, "
            f"{args.publishers} publisher processes): {loaded.line()}"
        )
        small_ms, drain_s = await fairness(db, raw, url, big, small, args.burst, handler)
        print(
            f"\nfairness: small tenant's critical event during a {args.burst}-event critical "
            f"burst of another tenant: {small_ms:.1f} ms (burst drained in {drain_s:.1f} s)"
        )
    finally:
        await raw.close()
        await db.dispose()
        await admin_conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin_conn.close()


def cli() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_publisher":
        url, tenant, rate, seconds, out = sys.argv[2:7]
        asyncio.run(_publisher(url, tenant, float(rate), float(seconds), out))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        kind, url, handler, concurrency, batch = sys.argv[2:7]
        if kind == "ours":
            asyncio.run(_our_worker(url, handler, int(concurrency), int(batch)))
        elif kind == "floor":
            asyncio.run(run_floor_worker(url, int(batch)))
        else:
            asyncio.run(_pgqueuer_worker(url, int(batch)))
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="Postgres server (a db is created)")
    parser.add_argument("--events", type=int, default=20_000, help="Events per throughput run")
    parser.add_argument("--burst", type=int, default=10_000, help="Fairness burst size")
    parser.add_argument("--sustain-s", type=float, default=5.0, help="Seconds at --rate")
    parser.add_argument("--rate", type=float, default=1000.0, help="Sustained events/s")
    parser.add_argument("--publishers", type=int, default=2, help="Publisher processes")
    parser.add_argument("--idle-events", type=int, default=200, help="Idle latency samples")
    parser.add_argument("--skip-throughput", action="store_true", help="Latency only")
    parser.add_argument("--handler", default="noop", help="noop, or module:factory")
    parser.add_argument("--skip-pgqueuer", action="store_true", help="Only our pipeline")
    parser.add_argument("--skip-latency", action="store_true", help="Throughput only")
    args: Any = parser.parse_args()
    asyncio.run(main(args))


if __name__ == "__main__":
    cli()
