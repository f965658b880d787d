"""The heartbeat and the reaper pass by rows another transaction holds (the settler's
acknowledgement, on another connection of the same worker) instead of waiting for them:
two multi-row updates of the same rows, each waiting on the other, are a deadlock Postgres
breaks by failing one of them (it failed a worker's acknowledgement in a benchmark run)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import sqlalchemy as sa

from orchestration.events.models import CustomerEvent
from orchestration.events.publish import publish
from orchestration.queue.sql_store import SqlQueueStore
from orchestration.queue.types import ClaimedEvent
from shared.db.database import Database
from shared.db.schema import event_queue
from shared.tenants import create_tenant

q = event_queue.c
HANG_GUARD_S = 10  # a statement that waited for the held row would block until released


async def _claimed(db: Database, store: SqlQueueStore, n: int) -> list[ClaimedEvent]:
    tenant = await create_tenant(db, "acme")
    for i in range(n):
        await publish(
            db, CustomerEvent(tenantId=tenant.id, eventType="deal_closed", eventId=str(i))
        )
    return await store.claim("w1", limit=n, per_tenant=n)


@asynccontextmanager
async def _held(db: Database, event: ClaimedEvent) -> AsyncIterator[None]:
    """The event's row locked by another transaction, as an acknowledgement in flight."""
    async with db.engine.connect() as conn, conn.begin():
        await conn.execute(sa.select(q.id).where(q.id == event.id).with_for_update())
        yield


async def test_a_heartbeat_passes_by_a_row_being_acknowledged(postgres_db: Database) -> None:
    store = SqlQueueStore(postgres_db)
    try:
        busy, *free = await _claimed(postgres_db, store, 3)
        async with _held(postgres_db, busy):
            held = await asyncio.wait_for(store.renew("w1"), HANG_GUARD_S)
        assert held == {(e.id, e.attempts) for e in free}
        assert await asyncio.wait_for(store.renew("w1"), HANG_GUARD_S) == {
            (e.id, e.attempts) for e in (busy, *free)
        }
    finally:
        await store.close()


async def test_the_reaper_passes_by_a_row_being_acknowledged(postgres_db: Database) -> None:
    store = SqlQueueStore(postgres_db)
    try:
        busy, *free = await _claimed(postgres_db, store, 3)
        async with postgres_db.transaction() as conn:  # every lease long expired
            await conn.execute(
                sa.update(event_queue).values(
                    heartbeat_at=sa.func.now() - sa.text("interval '1 hour'")
                )
            )
        async with _held(postgres_db, busy):
            reaped = await asyncio.wait_for(store.reap(timedelta(minutes=5)), HANG_GUARD_S)
        assert reaped == len(free)
        async with postgres_db.engine.connect() as conn:
            statuses = dict((await conn.execute(sa.select(q.id, q.status))).all())
        assert statuses[busy.id] == "processing"
        assert {statuses[e.id] for e in free} == {"pending"}
    finally:
        await store.close()
