"""The Postgres claim and acknowledgement run on asyncpg directly (queue/claim.py,
queue/pg_complete.py): what they hand the worker and what they store must be exactly what
the SQLAlchemy path gives (the same rows read back through it, and SQLite's path)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from orchestration.events.models import CustomerEvent, EventPriority, EventSource
from orchestration.events.publish import publish
from orchestration.queue.rows import to_claimed
from orchestration.queue.sql_store import SqlQueueStore
from orchestration.queue.store import Settlement
from orchestration.queue.types import ClaimedEvent, HandlerOutcome, OutcomeKind
from shared.db.database import Database
from shared.db.schema import event_queue
from shared.tenants import create_tenant


def _rich_event(tenant_id: Any, n: int) -> CustomerEvent:
    return CustomerEvent(
        tenantId=tenant_id,
        eventType="churn_risk_detected",
        customerId=f"cust-{n}",
        eventData={"score": 0.7 + n / 100, "tags": ["a", n], "nested": {"ok": True, "none": None}},
        timestamp=datetime(2026, 11, 1, 12, n, tzinfo=UTC),
        source=EventSource.AI_ANALYSIS,
        priority=EventPriority.HIGH if n % 2 else EventPriority.LOW,
        workflow_triggers=["churn_prevention"] if n % 2 else None,
    )


async def _rows(db: Database, ids: list[Any]) -> dict[Any, sa.RowMapping]:
    async with db.engine.connect() as conn:
        result = await conn.execute(sa.select(event_queue).where(event_queue.c.id.in_(ids)))
        return {row["id"]: row for row in result.mappings()}


async def test_a_postgres_claim_hands_over_what_the_rows_hold(postgres_db: Database) -> None:
    tenant = await create_tenant(postgres_db, "acme")
    for n in range(6):
        await publish(postgres_db, _rich_event(tenant.id, n), max_retries=n)
    store = SqlQueueStore(postgres_db)
    try:
        claimed = await store.claim("w1", limit=10, per_tenant=10)
    finally:
        await store.close()
    assert len(claimed) == 6
    rows = await _rows(postgres_db, [event.id for event in claimed])
    for event in claimed:
        expected = to_claimed(rows[event.id])
        # First deliveries: no execution can name them yet (what the claim reports).
        assert event == ClaimedEvent(**{**vars(expected), "may_have_executions": False})
        assert event.attempts == 1 and event.event_data["nested"] == {"ok": True, "none": None}


async def test_a_postgres_ack_stores_results_as_the_json_column_does(
    postgres_db: Database,
) -> None:
    tenant = await create_tenant(postgres_db, "acme")
    for n in range(3):
        await publish(postgres_db, _rich_event(tenant.id, n))
    store = SqlQueueStore(postgres_db)
    try:
        first, second, third = await store.claim("w1", limit=10, per_tenant=10)
        results: list[Any] = [{"executions": [{"id": "x", "at": "2026"}], "n": 1.5}, None, []]
        report = await store.settle(
            "w1",
            [
                Settlement(event, HandlerOutcome(OutcomeKind.COMPLETED, result=result))
                for event, result in zip((first, second, third), results, strict=True)
            ],
        )
    finally:
        await store.close()
    assert report.completed == 3
    async with postgres_db.engine.connect() as conn:
        stored = {
            row.id: row
            for row in await conn.execute(
                sa.text(
                    "SELECT id, status, worker_id, heartbeat_at, updated_at,"
                    " processing_result::text AS result FROM event_queue"
                )
            )
        }
    # jsonb's own text form; a None result is JSON null, as SQLAlchemy's JSON type wrote it
    expected = ['{"n": 1.5, "executions": [{"at": "2026", "id": "x"}]}', "null", "[]"]
    for event, text in zip((first, second, third), expected, strict=True):
        row = stored[event.id]
        assert (row.status, row.worker_id, row.heartbeat_at) == ("completed", None, None)
        assert abs(row.updated_at - datetime.now(UTC)) < timedelta(minutes=1)
        assert row.result == text


async def test_a_postgres_ack_leaves_an_event_someone_else_now_holds(
    postgres_db: Database,
) -> None:
    tenant = await create_tenant(postgres_db, "acme")
    await publish(postgres_db, _rich_event(tenant.id, 1))
    now = [datetime.now(UTC)]
    store = SqlQueueStore(postgres_db, clock=lambda: now[0])
    try:
        (stale,) = await store.claim("w1", limit=1, per_tenant=1)
        now[0] += timedelta(minutes=10)
        assert await store.reap(timedelta(seconds=60)) == 1
        (current,) = await store.claim("w2", limit=1, per_tenant=1)
        done = HandlerOutcome(OutcomeKind.COMPLETED, result={"by": "w1"})
        await store.settle("w1", [Settlement(stale, done)])  # w1's lease is gone
        held = await store.get(current.id)
        assert held is not None and (held.status, held.worker_id) == ("processing", "w2")
        again = HandlerOutcome(OutcomeKind.COMPLETED, result={"by": "w2"})
        await store.settle("w2", [Settlement(current, again)])
        finished = await store.get(current.id)
        assert finished is not None and finished.processing_result == {"by": "w2"}
    finally:
        await store.close()
