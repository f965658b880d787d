"""Retention on SQLite and Postgres: finished events and executions are archived (or
deleted) after the retention period, archives expire, live work is never touched, and a
worker applies it on its schedule."""

from __future__ import annotations

import uuid
from datetime import timedelta

import anyio
import sqlalchemy as sa

from orchestration.events.models import CustomerEvent
from orchestration.events.publish import publish
from orchestration.queue.config import QueueConfig
from orchestration.queue.retention import RetentionPolicy, RetentionReport, apply_retention
from orchestration.queue.sql_store import SqlQueueStore
from orchestration.queue.store import Settlement
from orchestration.queue.types import ClaimedEvent, HandlerOutcome, OutcomeKind
from orchestration.wakeup import Wakeup
from orchestration.worker import Worker
from shared.db.database import Database
from shared.db.orchestration_tables import (
    event_archive,
    workflow_execution_archive,
    workflow_executions,
)
from shared.tenants import Tenant
from tests.integration.queue.conftest import MovableClock

WEEK = RetentionPolicy(older_than=timedelta(days=7))


async def _queue(db: Database, tenant: Tenant, n: int) -> None:
    for i in range(n):
        event = CustomerEvent(tenantId=tenant.id, eventType="deal_closed", eventData={"n": i})
        await publish(db, event, max_retries=0)


def _outcome(event: ClaimedEvent, kind: OutcomeKind) -> Settlement:
    return Settlement(event, HandlerOutcome(kind, result={"n": event.event_data["n"]}))


async def _execution(
    db: Database, tenant: Tenant, trigger: uuid.UUID | None, status: str, clock: MovableClock
) -> uuid.UUID:
    execution_id = uuid.uuid4()
    async with db.transaction() as conn:
        await conn.execute(
            sa.insert(workflow_executions).values(
                id=execution_id,
                tenant_id=tenant.id,
                trigger_event_id=trigger,
                status=status,
                started_at=clock(),
                completed_at=clock() if status in ("completed", "failed") else None,
                step_state={"steps": {"notify": {"sent": True}}},
            )
        )
    return execution_id


async def _ids(db: Database, table: sa.Table) -> set[uuid.UUID]:
    async with db.engine.connect() as conn:
        return set((await conn.execute(sa.select(table.c.id))).scalars())


async def _settled(store: SqlQueueStore, kinds: list[OutcomeKind]) -> list[ClaimedEvent]:
    claimed = sorted(
        await store.claim("w1", limit=len(kinds), per_tenant=len(kinds)),
        key=lambda e: e.event_data["n"],
    )
    await store.settle("w1", [_outcome(e, k) for e, k in zip(claimed, kinds, strict=True)])
    return claimed


async def test_archive_moves_old_finished_work_and_keeps_live_work(
    any_db: Database, tenant: Tenant, store: SqlQueueStore, clock: MovableClock
) -> None:
    await _queue(any_db, tenant, 4)
    done, dead = await _settled(store, [OutcomeKind.COMPLETED, OutcomeKind.FAILED])
    finished = await _execution(any_db, tenant, done.id, "completed", clock)
    of_dead_letter = await _execution(any_db, tenant, dead.id, "failed", clock)
    waiting = await _execution(any_db, tenant, None, "waiting", clock)
    clock.advance(8 * 86400)
    [recent_done] = await _settled(store, [OutcomeKind.COMPLETED])  # finished just now

    report = await store.retain(WEEK)

    assert report == RetentionReport(events=1, executions=1)
    assert await store.counts() == {"completed": 1, "failed": 1, "pending": 1}
    assert await _ids(any_db, event_archive) == {done.id}
    assert await _ids(any_db, workflow_execution_archive) == {finished}
    # the dead letter stays replayable with its execution; the parked execution stays
    assert await _ids(any_db, workflow_executions) == {of_dead_letter, waiting}
    assert recent_done.id not in await _ids(any_db, event_archive)
    async with any_db.engine.connect() as conn:
        archived = (await conn.execute(sa.select(event_archive))).mappings().one()
        execution = (await conn.execute(sa.select(workflow_execution_archive))).mappings().one()
    assert archived["event_type"] == "deal_closed"
    assert archived["record"]["event_data"] == {"n": 0}
    assert archived["record"]["processing_result"] == {"n": 0}
    assert archived["record"]["id"] == str(done.id)
    assert execution["trigger_event_id"] == done.id
    assert execution["record"]["step_state"] == {"steps": {"notify": {"sent": True}}}


async def test_delete_mode_archives_nothing(
    any_db: Database, tenant: Tenant, store: SqlQueueStore, clock: MovableClock
) -> None:
    await _queue(any_db, tenant, 3)
    claimed = await _settled(store, [OutcomeKind.COMPLETED] * 3)
    await _execution(any_db, tenant, claimed[0].id, "completed", clock)
    clock.advance(8 * 86400)

    report = await store.retain(RetentionPolicy(older_than=timedelta(days=7), mode="delete"))

    assert report == RetentionReport(events=3, executions=1)
    assert await store.counts() == {}
    assert await _ids(any_db, event_archive) == set()
    assert await _ids(any_db, workflow_execution_archive) == set()
    assert await _ids(any_db, workflow_executions) == set()


async def test_archived_rows_expire_after_their_own_period(
    any_db: Database, tenant: Tenant, store: SqlQueueStore, clock: MovableClock
) -> None:
    await _queue(any_db, tenant, 2)
    claimed = await _settled(store, [OutcomeKind.COMPLETED] * 2)
    await _execution(any_db, tenant, claimed[0].id, "completed", clock)
    policy = RetentionPolicy(older_than=timedelta(days=7), archive_older_than=timedelta(days=30))
    clock.advance(8 * 86400)
    assert await store.retain(policy) == RetentionReport(events=2, executions=1)
    clock.advance(29 * 86400)
    assert await store.retain(policy) == RetentionReport()  # not yet 30 days in the archive
    clock.advance(2 * 86400)

    assert await store.retain(policy) == RetentionReport(archived_deleted=3)
    assert await _ids(any_db, event_archive) == set()


async def test_retention_works_through_many_batches(
    any_db: Database, tenant: Tenant, clock: MovableClock
) -> None:
    await _queue(any_db, tenant, 7)
    store = SqlQueueStore(any_db, clock=clock)
    await _settled(store, [OutcomeKind.COMPLETED] * 7)
    clock.advance(8 * 86400)

    report = await apply_retention(any_db, WEEK, now=clock(), batch=2)
    await store.close()

    assert report.events == 7
    assert len(await _ids(any_db, event_archive)) == 7


async def test_worker_applies_retention_on_its_schedule(
    any_db: Database, tenant: Tenant, store: SqlQueueStore, clock: MovableClock
) -> None:
    await _queue(any_db, tenant, 2)
    await _settled(store, [OutcomeKind.COMPLETED] * 2)
    clock.advance(8 * 86400)

    async def handler(event: ClaimedEvent) -> HandlerOutcome:
        raise AssertionError("nothing is pending")

    config = QueueConfig(retention_days=7, retention_mode="archive", poll_interval_s=30)
    worker = Worker(SqlQueueStore(any_db, clock=clock), handler, Wakeup(any_db), config=config)
    with anyio.fail_after(20):
        stats = await worker.run(drain=True)

    assert stats.retained_events == 2
    assert len(await _ids(any_db, event_archive)) == 2
    assert await store.counts() == {}
