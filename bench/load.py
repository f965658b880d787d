"""A 100,000-event burst across 50 tenants on Postgres with 2 workers (issue 8).

The burst is spread over the 50 tenants with a skew (tenant i gets a share proportional to
1/(i+1), so a few tenants send most of it), published through `publish()` in transactions
of 500. While it drains, the 40 smallest tenants each send critical events now and then;
their latency (publish to completed) is the fairness figure: one tenant's burst must not
hold another tenant's critical event back by more than a batch.

Workers are `switchboard worker` processes (by default the shipped runtime: workflow
matching on every event; no definitions match, so each event is claimed, matched and
completed; `--handler noop` completes each event at once, measuring the queue alone). Figures: no
loss (every published event completed or dead-lettered), drain rate, the worst and p99
small-tenant critical latency, and the workers' RSS at start and end (memory flat).

    uv run python bench/load.py                       # 100,000 events
    uv run python bench/load.py --events 5000         # a quick run
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ leads sys.path and bench/http.py would shadow the stdlib `http`.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(_BENCH.parent), *(p for p in sys.path if Path(p or ".").resolve() != _BENCH)]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import psutil  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.figures import Figure, add_json_option, at_most, write_figures  # noqa: E402
from bench.harness import DEFAULT_URL, WorkerPool, queue_tally, throwaway_database  # noqa: E402
from orchestration.events.models import CustomerEvent, EventPriority  # noqa: E402
from orchestration.events.publish import publish, publish_in  # noqa: E402
from orchestration.queue.types import (  # noqa: E402
    ClaimedEvent,
    EventHandler,
    HandlerOutcome,
    OutcomeKind,
)
from shared.db.database import Database  # noqa: E402
from shared.tenants import create_tenant  # noqa: E402

TENANTS, SMALL_TENANTS = 50, 40
CHUNK = 500  # events per publishing transaction


def complete_at_once(db: Database) -> EventHandler:
    """A handler that completes every event at once (`--handler noop`): the queue alone."""

    async def handler(event: ClaimedEvent) -> HandlerOutcome:
        return HandlerOutcome(OutcomeKind.COMPLETED)

    return handler


@dataclass
class LoadOptions:
    events: int = 100_000
    handler: str = "runtime"  # the shipped workflow runtime, or "noop"
    workers: int = 2
    concurrency: int = 50
    critical_every_s: float = 0.5  # one small tenant's critical event this often
    seed: int = 1
    drain_timeout_s: float = 1800.0


@dataclass
class LoadFigures:
    published: int = 0
    in_queue: int = 0
    completed: int = 0
    dead_lettered: int = 0
    unfinished: int = 0
    publish_s: float = 0.0
    drain_s: float = 0.0
    criticals: int = 0
    critical_worst_ms: float = float("nan")
    critical_p99_ms: float = float("nan")
    critical_p50_ms: float = float("nan")
    rss_start_mb: list[float] = field(default_factory=list[float])
    rss_end_mb: list[float] = field(default_factory=list[float])
    rss_peak_mb: list[float] = field(default_factory=list[float])

    @property
    def lost(self) -> int:
        return self.published - self.in_queue

    @property
    def rate(self) -> float:
        return self.completed / self.drain_s if self.drain_s else float("nan")

    def as_figures(self) -> list[Figure]:
        start, end = max(self.rss_start_mb, default=0), max(self.rss_end_mb, default=0)
        return [
            Figure("load: events published", self.published),
            at_most("load: events lost", self.lost, 0),
            at_most("load: events unfinished after the drain", self.unfinished, 0),
            Figure("load: drain rate (2 workers)", round(self.rate), "events/s"),
            at_most(
                "load: worst small-tenant critical latency",
                round(self.critical_worst_ms),
                5000,
                "ms",
                baseline=f"p50 {self.critical_p50_ms:.0f} ms over {self.criticals} events",
            ),
            Figure("load: worker RSS at start (largest)", round(start), "MB"),
            at_most(
                "load: worker RSS at end (largest)",
                round(end),
                round(start * 1.5),
                "MB",
                baseline=f"{start:.0f} MB at start",
            ),
        ]


def _rss_mb(pids: list[int]) -> list[float]:
    sizes: list[float] = []
    for pid in pids:
        try:
            sizes.append(psutil.Process(pid).memory_info().rss / 2**20)
        except psutil.NoSuchProcess:
            continue
    return sizes


async def _publish_burst(
    db: Database, tenants: list[uuid.UUID], count: int, seed: int, publishers: int = 8
) -> int:
    """`count` events over `tenants` (skewed), from `publishers` concurrent connections."""
    rng = random.Random(seed)
    weights = [1 / (i + 1) for i in range(len(tenants))]
    owners = rng.choices(tenants, weights=weights, k=count)
    chunks = [owners[start : start + CHUNK] for start in range(0, count, CHUNK)]

    async def publisher(mine: list[list[uuid.UUID]]) -> None:
        for chunk in mine:
            async with db.transaction() as conn:  # one commit (and one NOTIFY) per chunk
                for tenant_id in chunk:
                    event = CustomerEvent(tenantId=tenant_id, eventType="lead_qualified")
                    await publish_in(conn, event)

    await asyncio.gather(*(publisher(chunks[i::publishers]) for i in range(publishers)))
    return count


async def _send_criticals(
    db: Database, small: list[uuid.UUID], every_s: float, stop: asyncio.Event, seed: int
) -> int:
    rng = random.Random(seed + 1)
    sent = 0
    while not stop.is_set():
        event = CustomerEvent(
            tenantId=rng.choice(small),
            eventType="churn_risk_detected",
            priority=EventPriority.CRITICAL,
        )
        await publish(db, event)
        sent += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
    return sent


async def _critical_latencies_ms(db: Database) -> list[float]:
    query = sa.text(
        "SELECT extract(epoch FROM updated_at - created_at) * 1000 FROM event_queue "
        "WHERE event_type = 'churn_risk_detected' AND status = 'completed'"
    )
    async with db.engine.connect() as conn:
        return sorted(float(ms) for (ms,) in (await conn.execute(query)).all())


async def _wait_for_workers(db: Database, tenant_id: uuid.UUID, timeout_s: float) -> None:
    """One event through, so the burst starts with the workers up (they take seconds)."""
    await publish(db, CustomerEvent(tenantId=tenant_id, eventType="deal_closed"))
    deadline = time.monotonic() + timeout_s
    while (await queue_tally(db, "deal_closed")).completed == 0:
        if time.monotonic() > deadline:
            raise SystemExit("no worker completed the warm-up event; see the worker logs")
        await asyncio.sleep(0.1)


async def run_load(url: str, options: LoadOptions, log_dir: Path) -> LoadFigures:
    figures = LoadFigures()
    db = Database.from_url(url)
    env = {"SWITCHBOARD_QUEUE_CONCURRENCY": str(options.concurrency)}
    if options.handler == "noop":
        env["SWITCHBOARD_EVENT_HANDLER"] = "bench.load:complete_at_once"
    pool = WorkerPool(url, log_dir, env=env)
    try:
        tenants = [(await create_tenant(db, f"load-{i:02d}")).id for i in range(TENANTS)]
        for _ in range(options.workers):
            pool.start()
        try:
            await _wait_for_workers(db, tenants[0], 300)
        except SystemExit:
            print(pool.logs(), file=sys.stderr)
            raise
        pids = [p.pid for p in pool.alive]
        figures.rss_start_mb = _rss_mb(pids)
        peak = list(figures.rss_start_mb)
        stop = asyncio.Event()
        small = tenants[-SMALL_TENANTS:]
        criticals = asyncio.create_task(
            _send_criticals(db, small, options.critical_every_s, stop, options.seed)
        )
        began = time.monotonic()
        figures.published = await _publish_burst(db, tenants, options.events, options.seed)
        figures.publish_s = time.monotonic() - began
        deadline = began + options.drain_timeout_s
        while time.monotonic() < deadline:
            tally = await queue_tally(db, "lead_qualified")
            peak = [max(a, b) for a, b in zip(peak, _rss_mb(pids), strict=False)]
            if tally.unfinished == 0:
                break
            await asyncio.sleep(0.5)
        figures.drain_s = time.monotonic() - began
        stop.set()
        figures.criticals = await criticals
        await asyncio.sleep(1)  # the last critical event goes through
        figures.rss_end_mb = _rss_mb(pids)
        figures.rss_peak_mb = peak
        tally = await queue_tally(db, "lead_qualified")
        figures.in_queue = tally.total
        figures.completed = tally.completed
        figures.dead_lettered = tally.dead_lettered
        figures.unfinished = tally.unfinished
        latencies = await _critical_latencies_ms(db)
        if latencies:
            figures.critical_worst_ms = latencies[-1]
            figures.critical_p50_ms = latencies[len(latencies) // 2]
            figures.critical_p99_ms = latencies[round(0.99 * (len(latencies) - 1))]
    finally:
        pool.stop_all()
        await db.dispose()
    return figures


def print_figures(figures: LoadFigures, options: LoadOptions) -> None:
    print(
        f"burst of {figures.published:,} events over {TENANTS} tenants (skewed), "
        f"{options.workers} workers, handler {options.handler}: published in "
        f"{figures.publish_s:.1f} s, drained in "
        f"{figures.drain_s:.1f} s ({figures.rate:,.0f} events/s)"
    )
    print(
        f"  in the queue {figures.in_queue:,}: completed {figures.completed:,}, dead-lettered "
        f"{figures.dead_lettered:,}, unfinished {figures.unfinished:,}; lost {figures.lost:,}"
    )
    print(
        f"  small tenants' critical events ({figures.criticals}, publish to completed): "
        f"p50 {figures.critical_p50_ms:.0f} ms, p99 {figures.critical_p99_ms:.0f} ms, "
        f"worst {figures.critical_worst_ms:.0f} ms"
    )
    show = ", ".join
    print(
        f"  worker RSS MB: start {show(f'{m:.0f}' for m in figures.rss_start_mb)}; end "
        f"{show(f'{m:.0f}' for m in figures.rss_end_mb)}; peak "
        f"{show(f'{m:.0f}' for m in figures.rss_peak_mb)}"
    )


async def main(args: argparse.Namespace) -> None:
    options = LoadOptions(
        events=args.events, workers=args.workers, seed=args.seed, handler=args.handler
    )
    async with throwaway_database(args.url, "sb_load") as url:
        with tempfile.TemporaryDirectory(prefix="sb-load-") as logs:
            figures = await run_load(url, options, Path(logs))
    print_figures(figures, options)
    write_figures(args.json, figures.as_figures())


def cli() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default=DEFAULT_URL, help="Postgres server (a db is created)")
    parser.add_argument("--events", type=int, default=100_000, help="events in the burst")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--handler",
        choices=("runtime", "noop"),
        default="runtime",
        help="runtime: the shipped workflow runtime; noop: complete at once (the queue alone)",
    )
    add_json_option(parser)
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
