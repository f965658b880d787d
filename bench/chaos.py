"""Crash and database faults under a steady load: nothing lost, nothing done twice (issue 8).

A publisher sends `deal_closed` events at a steady rate; each runs a three-step workflow of
side-effecting `http_request` steps against a counting endpoint (which performs an effect
once per Idempotency-Key, as ClickUp or Stripe do). Meanwhile, at random moments:

- a `switchboard worker` process holding events is SIGKILLed and a new one started
  (`--kills`, default 50);
- every connection to the database is cut with `pg_terminate_backend` from an admin
  connection (`--db-drops`): the workers' pools, their LISTEN, the publisher's; and for
  `--outage-s` new connections are refused (`ALLOW_CONNECTIONS false` on this run's own
  database), as while a server restarts. The shared server itself is never restarted.

Then the run drains and proves: every accepted event reached a final state (completed or
dead-lettered), events in == completed + dead-lettered, each completed execution's side
effects reached the endpoint under its own key, and no step recorded as completed was
ever sent again (no request for its key arrived after the step's checkpoint time).
Retries of the step that was in flight when a worker died are counted separately: they
carry the same key and the endpoint performs them once.

    uv run python bench/chaos.py                       # 50 kills, 5 database drops
    uv run python bench/chaos.py --kills 5 --db-drops 1 --rate 10
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ leads sys.path and bench/http.py would shadow the stdlib `http`.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(_BENCH.parent), *(p for p in sys.path if Path(p or ".").resolve() != _BENCH)]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import datetime  # noqa: E402
from typing import Any  # noqa: E402

import asyncpg  # pyright: ignore[reportMissingTypeStubs]  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.exc import DBAPIError  # noqa: E402

from bench.figures import Figure, add_json_option, at_most, write_figures  # noqa: E402
from bench.harness import (  # noqa: E402
    DEFAULT_URL,
    CountingEndpoint,
    WorkerPool,
    queue_tally,
    throwaway_database,
)
from orchestration.events.models import CustomerEvent  # noqa: E402
from orchestration.events.publish import publish  # noqa: E402
from orchestration.workflows.engine import idempotency_key  # noqa: E402
from orchestration.workflows.store import save_definition  # noqa: E402
from shared.db.database import Database  # noqa: E402
from shared.tenants import create_tenant  # noqa: E402

STEPS = ("create", "notify", "bill")
EVENT_TYPE = "deal_closed"


@dataclass
class ChaosOptions:
    kills: int = 50
    db_drops: int = 0
    workers: int = 2
    rate: float = 5.0  # events published per second
    concurrency: int = 8  # events one worker handles at once
    gap_s: tuple[float, float] = (0.5, 2.5)  # random pause before each fault
    endpoint_delay_s: float = 0.03  # each side effect takes this long (steps are in flight)
    drain_timeout_s: float = 600.0
    outage_s: float = 0.0  # after a drop, refuse new connections this long (a restart)
    seed: int | None = None
    worker_command: tuple[str, ...] = ("-m", "servers.cli.main", "worker")


@dataclass
class ChaosFigures:
    kills: int = 0
    db_drops: int = 0
    backends_terminated: int = 0
    accepted: int = 0
    lost: int = 0  # accepted event ids missing from the queue
    in_queue: int = 0
    completed: int = 0
    dead_lettered: int = 0
    unfinished: int = 0
    lease_expiries: int = 0  # events a killed worker held, returned by the reaper
    executions_completed: int = 0
    requests: int = 0
    keys: int = 0
    retried_in_flight: int = 0  # a step re-sent with its key after its worker died mid-call
    repeated_completed_steps: int = 0
    missing_effects: int = 0
    workers_started: int = 0
    worker_exit_codes: list[int] = field(default_factory=list[int])  # at the graceful stop
    publish_resends: int = 0  # publishes cut off by a dropped connection, sent again
    drain_s: float = 0.0
    elapsed_s: float = 0.0
    dead_letter_errors: list[str] = field(default_factory=list[str])

    def as_figures(self) -> list[Figure]:
        accounted = self.in_queue - self.completed - self.dead_lettered
        return [
            Figure("crash: SIGKILLs of a worker holding events", self.kills),
            Figure("crash: database connection drops", self.db_drops),
            Figure("crash: events accepted", self.accepted),
            Figure("crash: events completed", self.completed),
            Figure("crash: events dead-lettered", self.dead_lettered),
            at_most("crash: accepted events missing from the queue", self.lost, 0),
            at_most("crash: events in - (completed + dead-lettered)", accounted, 0),
            at_most("crash: completed side-effecting steps repeated", self.repeated_completed_steps, 0),  # noqa: E501
            at_most("crash: side effects missing for completed executions", self.missing_effects, 0),  # noqa: E501
            Figure("crash: in-flight steps re-sent under their key", self.retried_in_flight),
            Figure("crash: drain after the last fault", round(self.drain_s, 1), "s"),
        ]  # fmt: skip


def _definition(endpoint_url: str) -> str:
    steps = "\n".join(
        f'  - {{name: {step}, action: http_request, url: "{endpoint_url}/{step}", '
        f"json: {{step: {step}}}}}"
        for step in STEPS
    )
    return f"""name: Close the deal
trigger: {{type: event, event_type: {EVENT_TYPE}}}
retry_policy: {{max_attempts: 10, initial_delay_seconds: 0.1, max_delay_seconds: 1}}
steps:
{steps}
"""


class Publisher:
    """Publishes at a steady rate; an event counts as accepted once publish() returns.
    A publish cut off by a dropped connection is sent again with the same eventId (which
    the queue deduplicates), as a webhook sender would."""

    def __init__(self, db: Database, tenant_id: uuid.UUID, rate: float) -> None:
        self.db, self.tenant_id, self.rate = db, tenant_id, rate
        self.accepted: set[str] = set()
        self.stop = asyncio.Event()
        self.resends = 0

    async def publish_one(self) -> None:
        event = CustomerEvent(
            eventId=f"chaos-{uuid.uuid4()}",
            tenantId=self.tenant_id,
            customerId=f"cust-{len(self.accepted)}",
            eventType=EVENT_TYPE,
        )
        while True:
            try:
                await publish(self.db, event, max_retries=10)
                break
            except (DBAPIError, OSError):
                self.resends += 1
                await asyncio.sleep(0.05)
        self.accepted.add(event.event_id)

    async def run(self) -> None:
        interval = 1 / self.rate
        next_at = time.monotonic()
        while not self.stop.is_set():
            await self.publish_one()
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def _holding(db: Database, pid: int) -> int:
    """How many events the worker process `pid` holds right now."""
    async with db.engine.connect() as conn:
        found = await conn.execute(
            sa.text(
                "SELECT count(*) FROM event_queue WHERE status = 'processing' "
                "AND worker_id LIKE :pattern"
            ),
            {"pattern": f"%:{pid}:%"},
        )
        return int(found.scalar_one())


async def _kill_one_holding_work(db: Database, pool: WorkerPool, rng: random.Random) -> None:
    """SIGKILL a live worker that holds events (waiting until one does), start another."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        candidates = pool.alive
        rng.shuffle(candidates)
        for proc in candidates:
            try:
                holding = await _holding(db, proc.pid)
            except (DBAPIError, OSError):
                holding = 0
            if holding:
                pool.kill(proc)
                pool.start()
                return
        await asyncio.sleep(0.05)
    raise SystemExit(f"no worker took any event for 5 minutes; their logs:\n{pool.logs()}")


async def _drop_connections(admin: asyncpg.Connection, database: str, outage_s: float) -> int:
    """Terminate every backend connected to `database`; with `outage_s`, refuse new ones that
    long first, as a restarting server would. Only this run's database is touched, never the
    shared server."""
    if outage_s > 0:
        await admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
    try:
        found: Any = await admin.fetchval(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()) AS t",
            database,
        )
        await asyncio.sleep(outage_s)
    finally:
        if outage_s > 0:
            await admin.execute(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true')
    return int(found or 0)


async def _wait_until_working(db: Database, timeout_s: float) -> None:
    """Faults start once the workers have completed an event (they take seconds to start)."""
    deadline = time.monotonic() + timeout_s
    while (await queue_tally(db, EVENT_TYPE)).completed == 0:
        if time.monotonic() > deadline:
            raise SystemExit("no worker completed an event; see the worker logs")
        await asyncio.sleep(0.1)


async def _wait_drained(db: Database, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if (await queue_tally(db, EVENT_TYPE)).unfinished == 0:
                return
        except (DBAPIError, OSError):
            pass
        await asyncio.sleep(0.2)


async def _queued_ids(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            sa.text("SELECT event_id FROM event_queue WHERE event_type = :t"), {"t": EVENT_TYPE}
        )
        return {str(event_id) for (event_id,) in rows.all()}


async def _executions(db: Database) -> list[dict[str, Any]]:
    query = sa.text(
        "SELECT x.id, x.tenant_id, x.workflow_definition_id, x.workflow_version, x.status, "
        "x.step_state, q.event_id, q.status AS event_status "
        "FROM workflow_executions x JOIN event_queue q ON q.id = x.trigger_event_id"
    )
    async with db.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(query)).mappings()]


def _check_side_effects(
    executions: list[dict[str, Any]], endpoint: CountingEndpoint, figures: ChaosFigures
) -> None:
    """Each completed execution's steps reached the endpoint under their keys; no request
    for a step arrived after the step was recorded complete."""
    requests = endpoint.by_key()
    figures.requests = sum(len(r) for r in requests.values())
    figures.keys = len(requests)
    figures.retried_in_flight = figures.requests - figures.keys
    for execution in executions:
        records: dict[str, Any] = (execution["step_state"] or {}).get("steps", {})
        for step in STEPS:
            key = idempotency_key(
                execution["tenant_id"],
                execution["event_id"],
                execution["workflow_definition_id"],
                execution["workflow_version"] or 1,
                step,
            )
            record = records.get(step)
            sent = requests.get(key, [])
            if record is None or record.get("status") != "completed":
                continue
            if not sent:
                figures.missing_effects += 1
                continue
            finished = datetime.fromisoformat(record["finished_at"]).timestamp()
            figures.repeated_completed_steps += sum(1 for r in sent if r.at > finished)


async def run_chaos(url: str, options: ChaosOptions, log_dir: Path) -> ChaosFigures:
    """Run the fault schedule against a migrated database at `url`; the figures."""
    rng = random.Random(options.seed)
    figures = ChaosFigures()
    database = make_url(url).database or ""
    admin_url = make_url(url).set(drivername="postgresql", database="postgres")
    db = Database.from_url(url)
    admin = await asyncpg.connect(admin_url.render_as_string(hide_password=False))
    delay = options.endpoint_delay_s
    pool = WorkerPool(
        url,
        log_dir,
        env={"SWITCHBOARD_QUEUE_CONCURRENCY": str(options.concurrency)},
        command=options.worker_command,
    )
    began = time.monotonic()
    try:
        with CountingEndpoint(lambda: rng.uniform(0, 2 * delay)) as endpoint:
            tenant = await create_tenant(db, f"chaos-{uuid.uuid4().hex[:6]}")
            await save_definition(db, tenant.id, _definition(endpoint.url))
            for _ in range(options.workers):
                pool.start()
            publisher = Publisher(db, tenant.id, options.rate)
            # Workers take seconds to start: the steady load begins once they work, so the
            # backlog of their start-up does not count as recovery time.
            await publisher.publish_one()
            await _wait_until_working(db, options.drain_timeout_s)
            publishing = asyncio.create_task(publisher.run())
            faults = ["kill"] * options.kills + ["drop"] * options.db_drops
            rng.shuffle(faults)
            try:
                for fault in faults:
                    await asyncio.sleep(rng.uniform(*options.gap_s))
                    if fault == "kill":
                        await _kill_one_holding_work(db, pool, rng)
                        figures.kills += 1
                    else:
                        figures.backends_terminated += await _drop_connections(
                            admin, database, options.outage_s
                        )
                        figures.db_drops += 1
            finally:
                publisher.stop.set()
                await publishing
            last_fault = time.monotonic()
            await _wait_drained(db, options.drain_timeout_s)
            figures.drain_s = time.monotonic() - last_fault
            figures.worker_exit_codes = pool.stop_all()
            figures.publish_resends = publisher.resends
            tally = await queue_tally(db, EVENT_TYPE)
            figures.accepted = len(publisher.accepted)
            figures.lost = len(publisher.accepted - await _queued_ids(db))
            figures.in_queue = tally.total
            figures.completed = tally.completed
            figures.dead_lettered = tally.dead_lettered
            figures.unfinished = tally.unfinished
            figures.workers_started = pool.started
            executions = await _executions(db)
            figures.executions_completed = sum(e["status"] == "completed" for e in executions)
            _check_side_effects(executions, endpoint, figures)
            await _fill_history(db, figures)
    finally:
        pool.stop_all(grace_s=5)
        await admin.close()
        await db.dispose()
    figures.elapsed_s = time.monotonic() - began
    return figures


async def _fill_history(db: Database, figures: ChaosFigures) -> None:
    async with db.engine.connect() as conn:
        expiries = await conn.execute(
            sa.text(
                "SELECT count(*) FROM event_queue, jsonb_array_elements(error_details) AS e "
                "WHERE e->>'outcome' = 'lease_expired'"
            )
        )
        figures.lease_expiries = int(expiries.scalar_one())
        dead = await conn.execute(
            sa.text(
                "SELECT error_details->-1->'error'->>'message' FROM event_queue "
                "WHERE status = 'failed' LIMIT 5"
            )
        )
        figures.dead_letter_errors = [str(m) for (m,) in dead.all()]


def print_figures(figures: ChaosFigures, options: ChaosOptions) -> None:
    print(
        f"faults: {figures.kills} SIGKILLs of a worker holding events, {figures.db_drops} "
        f"database drops ({figures.backends_terminated} connections terminated, "
        f"{options.outage_s:g} s outage each); "
        f"{figures.workers_started} worker processes started"
    )
    print(
        f"events: {figures.accepted} accepted, {figures.in_queue} in the queue, "
        f"{figures.completed} completed + {figures.dead_lettered} dead-lettered, "
        f"{figures.unfinished} unfinished, {figures.lost} lost"
    )
    print(f"publishes cut off by a dropped connection and sent again: {figures.publish_resends}")
    print(
        f"leases expired and reaped: {figures.lease_expiries}; executions completed: "
        f"{figures.executions_completed}"
    )
    print(
        f"side effects: {figures.requests} requests for {figures.keys} keys; "
        f"{figures.retried_in_flight} in-flight steps re-sent under their key (performed once), "
        f"{figures.repeated_completed_steps} completed steps repeated, "
        f"{figures.missing_effects} missing"
    )
    for message in figures.dead_letter_errors:
        print(f"  dead-letter reason: {message}")
    print(
        f"drained {figures.drain_s:.1f} s after the last fault; run took {figures.elapsed_s:.0f} s"
    )
    verdict = (
        figures.lost == 0
        and figures.unfinished == 0
        and figures.in_queue == figures.completed + figures.dead_lettered
        and figures.repeated_completed_steps == 0
        and figures.missing_effects == 0
    )
    print("PASS" if verdict else "FAIL", "(targets: nothing lost or unfinished, nothing repeated)")


async def main(args: argparse.Namespace) -> None:
    options = ChaosOptions(
        kills=args.kills,
        db_drops=args.db_drops,
        workers=args.workers,
        rate=args.rate,
        concurrency=args.concurrency,
        seed=args.seed,
        outage_s=args.outage_s,
    )
    async with throwaway_database(args.url, "sb_chaos") as url:
        with tempfile.TemporaryDirectory(prefix="sb-chaos-") as logs:
            figures = await run_chaos(url, options, Path(logs))
    print_figures(figures, options)
    write_figures(args.json, figures.as_figures())


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=DEFAULT_URL, help="Postgres server (a db is created)")
    parser.add_argument("--kills", type=int, default=50, help="SIGKILLs of a busy worker")
    parser.add_argument("--db-drops", type=int, default=5, help="pg_terminate_backend rounds")
    parser.add_argument(
        "--outage-s", type=float, default=2.0, help="connections refused this long per drop"
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes at once")
    parser.add_argument("--rate", type=float, default=5.0, help="events published per second")
    parser.add_argument("--concurrency", type=int, default=8, help="events per worker at once")
    parser.add_argument("--seed", type=int, default=None, help="random seed (fault timing)")
    add_json_option(parser)
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
