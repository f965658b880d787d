"""Several workers claiming from one Postgres at once never take the same event twice."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from orchestration.events.models import CustomerEvent
from orchestration.events.publish import publish_in
from orchestration.queue.sql_store import SqlQueueStore
from orchestration.queue.store import Settlement
from orchestration.queue.types import HandlerOutcome, OutcomeKind
from shared.db.database import Database
from shared.tenants import create_tenant

EVENTS = 400


async def test_four_concurrent_claimers_take_each_event_exactly_once(
    postgres_db: Database,
) -> None:
    tenants = [await create_tenant(postgres_db, f"t{i}") for i in range(3)]
    async with postgres_db.transaction() as conn:
        for i in range(EVENTS):
            event = CustomerEvent(tenantId=tenants[i % 3].id, eventType="lead_qualified")
            await publish_in(conn, event)
    store = SqlQueueStore(postgres_db)
    seen: list[str] = []

    async def claimer(name: str) -> None:
        while True:
            batch = await store.claim(name, limit=7, per_tenant=4)
            if not batch:
                return
            seen.extend(str(e.id) for e in batch)
            await asyncio.sleep(0)  # let the others interleave their transactions
            done = [Settlement(e, HandlerOutcome(OutcomeKind.COMPLETED)) for e in batch]
            await store.settle(name, done)

    try:
        await asyncio.gather(*(claimer(f"w{i}") for i in range(4)))
    finally:
        await store.close()
    assert len(seen) == EVENTS
    assert len(set(seen)) == EVENTS
    async with postgres_db.engine.connect() as conn:
        statuses = (
            await conn.execute(sa.text("SELECT status, count(*) FROM event_queue GROUP BY 1"))
        ).all()
    assert [tuple(s) for s in statuses] == [("completed", EVENTS)]
