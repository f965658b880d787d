"""The Postgres claim reads about one batch of rows however stale the table's statistics are.

The queue table goes from empty to thousands of pending events within seconds, so its
statistics usually describe another moment. These tests make them describe an empty table
(what VACUUM leaves after retention emptied it, or a fresh install), fill it with a burst,
and look at the claim as the worker's queue connections plan it: the plan cached for the
prepared statement (generic, as asyncpg's statement cache gets after five executions) and
what one claim actually reads. Before migration 0006 and the planner settings, the same
claim read every pending row at least twice and sorted them (15-600 ms a claim).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg  # pyright: ignore[reportMissingTypeStubs]
import pytest
from sqlalchemy.engine import make_url

from orchestration.events.models import CustomerEvent
from orchestration.events.publish_batch import publish_batch_in
from orchestration.queue.claim import CLAIM_POSTGRES, QUEUE_PLANNER_SETTINGS
from shared.db.database import Database
from shared.tenants import create_tenant

BURST = 3000
BATCH = 50

_CLAIM = CLAIM_POSTGRES
_STAGE_INDEXES = {"ix_event_queue_pending", "pk_event_queue"}


@pytest.fixture
async def stale_burst(postgres_url: str) -> AsyncIterator[str]:
    """A burst of pending events (two tenants) behind statistics of an empty table."""
    plain = make_url(postgres_url).set(drivername="postgresql")
    url = plain.render_as_string(hide_password=False)
    admin: Any = await asyncpg.connect(url)
    try:
        await admin.execute("ALTER TABLE event_queue SET (autovacuum_enabled = false)")
        await admin.execute("VACUUM ANALYZE event_queue")
        assert await admin.fetchval(
            "SELECT reltuples FROM pg_class WHERE relname = 'event_queue'"
        ) in (0, -1)
    finally:
        await admin.close()
    db = Database.from_url(postgres_url)
    try:
        big = await create_tenant(db, "big")
        small = await create_tenant(db, "small")
        async with db.transaction() as conn:
            for _ in range(0, BURST, 500):
                await publish_batch_in(
                    conn,
                    [CustomerEvent(tenantId=big.id, eventType="deal_closed") for _ in range(500)],
                )
            await publish_batch_in(
                conn, [CustomerEvent(tenantId=small.id, eventType="deal_closed") for _ in range(5)]
            )
    finally:
        await db.dispose()
    yield url


async def _queue_connection(url: str) -> Any:
    """Planned as the worker's connections plan, with the plan a prepared statement caches."""
    conn: Any = await asyncpg.connect(url, server_settings=dict(QUEUE_PLANNER_SETTINGS))
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    await conn.execute(f"PREPARE claim(timestamptz, text, int, int) AS {_CLAIM}")
    return conn


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _event_queue_scans(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        node
        for node in _nodes(plan)
        if node.get("Relation Name") == "event_queue" and "Scan" in node["Node Type"]
    ]


async def test_the_cached_claim_plan_walks_the_pending_index_on_stale_statistics(
    stale_burst: str,
) -> None:
    conn = await _queue_connection(stale_burst)
    try:
        rows = await conn.fetch("EXPLAIN (FORMAT JSON) EXECUTE claim(now(), 'w', 50, 50)")
        plan = json.loads(rows[0][0])[0]["Plan"]
    finally:
        await conn.close()
    scans = _event_queue_scans(plan)
    assert scans, plan
    for scan in scans:
        assert scan["Node Type"] in ("Index Scan", "Index Only Scan"), scan
        assert scan["Index Name"] in _STAGE_INDEXES, scan
        if scan["Index Name"] == "pk_event_queue":
            assert "Index Cond" in scan, scan  # rows found by id, never the whole index
    kinds = {node["Node Type"] for node in _nodes(plan)}
    assert not kinds & {"Seq Scan", "Bitmap Heap Scan"}, kinds


async def test_a_claim_reads_about_a_batch_of_rows_not_the_burst(stale_burst: str) -> None:
    conn = await _queue_connection(stale_burst)
    rows: list[Any] = []
    claimed = 0
    try:
        async with conn.transaction():
            rows = await conn.fetch(
                f"EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE claim(now(), 'w', {BATCH}, {BATCH})"
            )
            claimed = await conn.fetchval(
                "SELECT count(*) FROM event_queue WHERE status = 'processing'"
            )
            raise _Rollback
    except _Rollback:
        pass
    finally:
        await conn.close()
    plan = json.loads(rows[0][0])[0]["Plan"]
    assert claimed == BATCH
    read = sum(
        scan["Actual Rows"] * scan["Actual Loops"] + scan.get("Rows Removed by Filter", 0)
        for scan in _event_queue_scans(plan)
    )
    # Each tenant's candidates (50 + 5), the probes for the next tenant, and the 50 updated
    # rows found by id: a few hundred at most, against the 3,005 pending rows.
    assert read < 4 * BATCH, (read, plan)


class _Rollback(Exception):
    """Leaves the claim of the EXPLAIN ANALYZE test undone."""
