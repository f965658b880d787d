"""`/metrics`: Prometheus text format, for every tenant of the deployment at once.

Two sources. The counters this process keeps come from the default registry:

    switchboard_workflow_executions_routed_total{platform}          (orchestration.runtime)
    switchboard_workflow_failovers_total{from_platform, to_platform}
    switchboard_platform_rate_limit_wait_seconds_total{platform, source}
        seconds platform calls waited: source=token_bucket for our own limiter (and the
        pause a 429's reset imposed on it), source=retry_after for the backoff after a 429
        (orchestration.platforms.resilience, recorded by PlatformHttp)

Everything a
separate worker process may have done is read from the database at scrape time, cached
for a few seconds so a tight scrape interval cannot turn into a query storm:

    switchboard_queue_events{priority, status}              events in event_queue
    switchboard_queue_oldest_pending_age_seconds{priority}  age of the oldest pending event
    switchboard_workflow_executions{workflow, platform, status}
    switchboard_workflow_execution_duration_seconds{platform}  histogram of execution_time_ms
    switchboard_workflow_failovers_recorded{platform}      executions whose routing failed over
    switchboard_platform_up{platform, connection_status}   configurations per health status

Only counts and ages leave the database: no tenant ids, no customer data. Labels are
platform names, statuses, priorities and workflow definition names. The endpoint needs
no token (as Prometheus expects); `serve` binds to 127.0.0.1 by default, so expose it
beyond the host only behind a proxy that restricts who may scrape.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from shared.db.database import Database
from shared.db.orchestration_tables import (
    event_queue,
    external_tool_configs,
    workflow_definitions,
    workflow_executions,
)

__all__ = ["DURATION_BUCKETS_S", "DatabaseSnapshot", "MetricsEndpoint", "read_snapshot"]

DURATION_BUCKETS_S: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_q = event_queue.c
_x = workflow_executions.c


@dataclass(frozen=True)
class DatabaseSnapshot:
    """What the database says at one scrape."""

    queue: dict[tuple[str, str], int] = field(default_factory=dict[tuple[str, str], int])
    oldest_pending_s: dict[str, float] = field(default_factory=dict[str, float])
    executions: dict[tuple[str, str, str], int] = field(
        default_factory=dict[tuple[str, str, str], int]
    )
    # platform -> (cumulative count per bucket, +Inf count, sum of seconds)
    durations: dict[str, tuple[list[int], int, float]] = field(
        default_factory=dict[str, tuple[list[int], int, float]]
    )
    failovers: dict[str, int] = field(default_factory=dict[str, int])
    platforms: dict[tuple[str, str], int] = field(default_factory=dict[tuple[str, str], int])


def _label(value: object, missing: str = "unknown") -> str:
    return str(value) if value is not None else missing


async def read_snapshot(db: Database, *, now: datetime | None = None) -> DatabaseSnapshot:
    """One read of every database-derived metric, across all tenants."""
    now = now or datetime.now(UTC)
    bucket_sums = [
        sa.func.sum(sa.case((_x.execution_time_ms <= int(b * 1000), 1), else_=0))
        for b in DURATION_BUCKETS_S
    ]
    timed = sa.and_(_x.execution_time_ms.is_not(None), _x.status.in_(("completed", "failed")))
    async with db.engine.connect() as conn:
        queue_rows = (
            await conn.execute(
                sa.select(_q.priority, _q.status, sa.func.count()).group_by(_q.priority, _q.status)
            )
        ).all()
        oldest_rows = (
            await conn.execute(
                sa.select(_q.priority, sa.func.min(_q.created_at))
                .where(_q.status == "pending")
                .group_by(_q.priority)
            )
        ).all()
        execution_rows = (
            await conn.execute(
                sa.select(
                    workflow_definitions.c.name,
                    _x.execution_platform,
                    _x.status,
                    sa.func.count(),
                )
                .select_from(
                    workflow_executions.outerjoin(
                        workflow_definitions,
                        workflow_definitions.c.id == _x.workflow_definition_id,
                    )
                )
                .group_by(workflow_definitions.c.name, _x.execution_platform, _x.status)
            )
        ).all()
        duration_rows = (
            await conn.execute(
                sa.select(
                    _x.execution_platform,
                    sa.func.count(),
                    sa.func.coalesce(sa.func.sum(_x.execution_time_ms), 0),
                    *bucket_sums,
                )
                .where(timed)
                .group_by(_x.execution_platform)
            )
        ).all()
        failover_rows = (
            await conn.execute(
                sa.select(_x.execution_platform, sa.func.count())
                .where(_x.routing["failed_over"].as_boolean().is_(True))
                .group_by(_x.execution_platform)
            )
        ).all()
        platform_rows = (
            await conn.execute(
                sa.select(
                    external_tool_configs.c.tool_name,
                    external_tool_configs.c.connection_status,
                    sa.func.count(),
                ).group_by(
                    external_tool_configs.c.tool_name, external_tool_configs.c.connection_status
                )
            )
        ).all()
    oldest: dict[str, float] = {}
    for priority, created in oldest_rows:
        if isinstance(created, str):  # SQLite's min() hands back the stored text
            created = datetime.fromisoformat(created)
        if isinstance(created, datetime):
            aware = created if created.tzinfo else created.replace(tzinfo=UTC)
            oldest[_label(priority)] = max(0.0, (now - aware).total_seconds())
    durations: dict[str, tuple[list[int], int, float]] = {}
    for row in duration_rows:
        values: list[Any] = list(row)
        durations[_label(values[0])] = (
            [int(b or 0) for b in values[3:]],
            int(values[1]),
            float(values[2]) / 1000.0,
        )
    return DatabaseSnapshot(
        queue={(_label(p), _label(s)): int(n) for p, s, n in queue_rows},
        oldest_pending_s=oldest,
        executions={
            (_label(w, "deleted"), _label(p, "unrouted"), _label(s)): int(n)
            for w, p, s, n in execution_rows
        },
        durations=durations,
        failovers={_label(p): int(n) for p, n in failover_rows},
        platforms={(_label(t), _label(s, "active")): int(n) for t, s, n in platform_rows},
    )


class _SnapshotCollector(Collector):
    """Yields the last snapshot as metric families (prometheus_client calls collect())."""

    def __init__(self) -> None:
        self.snapshot = DatabaseSnapshot()

    def collect(self) -> Iterable[GaugeMetricFamily | HistogramMetricFamily]:
        snap = self.snapshot
        queue = GaugeMetricFamily(
            "switchboard_queue_events",
            "Events in event_queue by priority (1 highest) and status",
            labels=["priority", "status"],
        )
        for (priority, status), n in sorted(snap.queue.items()):
            queue.add_metric([priority, status], n)
        yield queue
        oldest = GaugeMetricFamily(
            "switchboard_queue_oldest_pending_age_seconds",
            "Age of the oldest pending event, by priority",
            labels=["priority"],
        )
        for priority, age in sorted(snap.oldest_pending_s.items()):
            oldest.add_metric([priority], age)
        yield oldest
        runs = GaugeMetricFamily(
            "switchboard_workflow_executions",
            "Workflow executions recorded, by workflow, platform and status",
            labels=["workflow", "platform", "status"],
        )
        for labels, n in sorted(snap.executions.items()):
            runs.add_metric(list(labels), n)
        yield runs
        duration = HistogramMetricFamily(
            "switchboard_workflow_execution_duration_seconds",
            "Duration of finished workflow executions, by platform",
            labels=["platform"],
        )
        for platform, (buckets, count, total_s) in sorted(snap.durations.items()):
            bounds = [str(float(b)) for b in DURATION_BUCKETS_S]
            pairs = [*zip(bounds, buckets, strict=True), ("+Inf", count)]
            duration.add_metric([platform], [(b, float(n)) for b, n in pairs], total_s)
        yield duration
        failovers = GaugeMetricFamily(
            "switchboard_workflow_failovers_recorded",
            "Executions whose routing failed over, by the platform that finally ran them",
            labels=["platform"],
        )
        for platform, n in sorted(snap.failovers.items()):
            failovers.add_metric([platform], n)
        yield failovers
        health = GaugeMetricFamily(
            "switchboard_platform_configurations",
            "Tenant platform configurations by their last health check status",
            labels=["platform", "connection_status"],
        )
        for labels, n in sorted(snap.platforms.items()):
            health.add_metric(list(labels), n)
        yield health
        up = GaugeMetricFamily(
            "switchboard_platform_up",
            "1 when every configuration of the platform is active, else 0",
            labels=["platform"],
        )
        for platform in sorted({p for p, _ in snap.platforms}):
            statuses = {s for p, s in snap.platforms if p == platform}
            up.add_metric([platform], 1.0 if statuses <= {"active"} else 0.0)
        yield up


Reader = Callable[[Database], Awaitable[DatabaseSnapshot]]


class MetricsEndpoint:
    """The `/metrics` route: process counters plus a cached database snapshot."""

    def __init__(
        self,
        db: Database,
        *,
        cache_seconds: float = 5.0,
        process_registries: Sequence[CollectorRegistry] = (REGISTRY,),
        reader: Reader = read_snapshot,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self.process_registries = process_registries
        self.reader = reader
        self.clock = clock
        self._collector = _SnapshotCollector()
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self._collector)
        self._read_at: float | None = None
        self._lock = anyio.Lock()

    async def refresh(self) -> None:
        async with self._lock:  # concurrent scrapes share one read
            now = self.clock()
            if self._read_at is not None and now - self._read_at < self.cache_seconds:
                return
            self._collector.snapshot = await self.reader(self.db)
            self._read_at = self.clock()

    async def render(self) -> bytes:
        await self.refresh()
        parts = [generate_latest(r) for r in self.process_registries]
        parts.append(generate_latest(self._registry))
        return b"".join(parts)

    async def handle(self, _request: Request) -> Response:
        """The Starlette endpoint: `Route("/metrics", endpoint.handle)`."""
        return Response(await self.render(), media_type=CONTENT_TYPE_LATEST)
