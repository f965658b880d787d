"""`/metrics`: database gauges across tenants, process counters, the scrape cache."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.routing import Route

from servers.http.metrics import DatabaseSnapshot, MetricsEndpoint, read_snapshot
from shared.db.database import Database
from shared.db.orchestration_tables import (
    event_queue,
    external_tool_configs,
    workflow_definitions,
    workflow_executions,
)
from shared.tenants import create_tenant

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def _seed(db: Database) -> None:
    for tenant_name in ("acme", "globex"):  # two tenants: the metrics add them up
        tenant = await create_tenant(db, tenant_name)
        definition = uuid.uuid4()
        async with db.transaction() as conn:
            await conn.execute(
                sa.insert(workflow_definitions).values(
                    id=definition,
                    tenant_id=tenant.id,
                    name="Call hot leads",
                    trigger_type="event",
                    workflow_steps=[],
                )
            )
            for status, platform, ms, failed_over in (
                ("completed", "internal", 40, False),
                ("completed", "make", 2000, True),
                ("failed", "n8n", 700, False),
            ):
                await conn.execute(
                    sa.insert(workflow_executions).values(
                        tenant_id=tenant.id,
                        workflow_definition_id=definition,
                        status=status,
                        execution_platform=platform,
                        execution_time_ms=ms,
                        routing={"ran_on": platform, "failed_over": failed_over},
                    )
                )
            await conn.execute(
                sa.insert(event_queue).values(
                    tenant_id=tenant.id,
                    event_type="lead_qualified",
                    event_data={"score": 90},
                    priority=2,
                    status="pending",
                    created_at=NOW - timedelta(seconds=90 if tenant_name == "acme" else 30),
                )
            )
            await conn.execute(
                sa.insert(event_queue).values(
                    tenant_id=tenant.id,
                    event_type="lead_qualified",
                    event_data={},
                    priority=5,
                    status="failed",
                )
            )
            await conn.execute(
                sa.insert(external_tool_configs).values(
                    tenant_id=tenant.id,
                    tool_name="n8n",
                    connection_status="down" if tenant_name == "acme" else "active",
                )
            )


async def test_database_metrics_count_every_tenant(any_db: Database) -> None:
    await _seed(any_db)
    endpoint = MetricsEndpoint(any_db, process_registries=())
    endpoint.reader = lambda db: read_snapshot(db, now=NOW)
    samples = _samples((await endpoint.render()).decode())

    assert samples[("switchboard_queue_events", (("priority", "2"), ("status", "pending")))] == 2
    assert samples[("switchboard_queue_events", (("priority", "5"), ("status", "failed")))] == 2
    oldest = ("switchboard_queue_oldest_pending_age_seconds", (("priority", "2"),))
    assert samples[oldest] == 90
    runs = (
        "switchboard_workflow_executions",
        (("platform", "n8n"), ("status", "failed"), ("workflow", "Call hot leads")),
    )
    assert samples[runs] == 2
    bucket = "switchboard_workflow_execution_duration_seconds_bucket"
    assert samples[(bucket, (("le", "1.0"), ("platform", "n8n")))] == 2
    assert samples[(bucket, (("le", "0.5"), ("platform", "n8n")))] == 0
    assert samples[(bucket, (("le", "+Inf"), ("platform", "make")))] == 2
    assert (
        samples[("switchboard_workflow_execution_duration_seconds_sum", (("platform", "make"),))]
        == 4.0
    )
    assert samples[("switchboard_workflow_failovers_recorded", (("platform", "make"),))] == 2
    assert ("switchboard_workflow_failovers_recorded", (("platform", "n8n"),)) not in samples
    status = (("connection_status", "down"), ("platform", "n8n"))
    assert samples[("switchboard_platform_configurations", status)] == 1
    assert samples[("switchboard_platform_up", (("platform", "n8n"),))] == 0


async def test_metrics_carry_no_tenant_ids(any_db: Database) -> None:
    await _seed(any_db)
    text = (await MetricsEndpoint(any_db, process_registries=()).render()).decode()
    async with any_db.engine.connect() as conn:
        tenant_ids = (await conn.execute(sa.select(event_queue.c.tenant_id))).scalars().all()
    assert tenant_ids
    for tenant_id in tenant_ids:
        assert str(tenant_id) not in text
        assert tenant_id.hex not in text


async def test_scrapes_within_the_cache_window_read_the_database_once(sqlite_db: Database) -> None:
    reads: list[int] = []
    clock = [100.0]

    async def counting_reader(_db: Database) -> DatabaseSnapshot:
        reads.append(1)
        return DatabaseSnapshot(queue={("1", "pending"): len(reads)})

    endpoint = MetricsEndpoint(
        sqlite_db,
        cache_seconds=5,
        process_registries=(),
        reader=counting_reader,
        clock=lambda: clock[0],
    )
    await endpoint.render()
    clock[0] += 4
    second = _samples((await endpoint.render()).decode())
    assert len(reads) == 1
    assert second[("switchboard_queue_events", (("priority", "1"), ("status", "pending")))] == 1
    clock[0] += 2
    await endpoint.render()
    assert len(reads) == 2


async def test_metrics_route_serves_process_counters_in_prometheus_text(
    sqlite_db: Database,
) -> None:
    process = CollectorRegistry()
    routed = Counter("switchboard_test_routed_total", "routed", ["platform"], registry=process)
    routed.labels(platform="make").inc(3)
    app = Starlette(
        routes=[Route("/metrics", MetricsEndpoint(sqlite_db, process_registries=(process,)).handle)]
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        answer = await http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = _samples(answer.text)
    assert samples[("switchboard_test_routed_total", (("platform", "make"),))] == 3
    assert ("switchboard_queue_events", (("priority", "1"), ("status", "pending"))) not in samples


async def test_rate_limit_waits_of_platform_calls_are_on_metrics(sqlite_db: Database) -> None:
    from orchestration.platforms.http import PlatformHttp
    from orchestration.platforms.resilience import CircuitBreaker, RetryPolicy, TokenBucket

    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    platform = f"metrics-{uuid.uuid4().hex[:6]}"
    http = PlatformHttp(
        httpx.AsyncClient(transport=httpx.MockTransport(lambda request: httpx.Response(200))),
        platform=platform,
        base_url="https://api.example.test",
        headers={},
        limiter=TokenBucket(60, burst=1, clock=lambda: now[0], sleep=sleep),
        breaker=CircuitBreaker(),
        policy=RetryPolicy(),
    )
    for _ in range(4):  # burst 1 at one a second: three waits of a second
        await http.request("GET", "/x")
    samples = _samples((await MetricsEndpoint(sqlite_db).render()).decode())
    key = (
        "switchboard_platform_rate_limit_wait_seconds_total",
        (("platform", platform), ("source", "token_bucket")),
    )
    assert samples[key] == 3.0
