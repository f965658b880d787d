"""The queue contract on SQLite and Postgres: claim, ack, retry, dead-letter, replay, reaper,
release, fairness and retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestration.events.models import CustomerEvent, EventPriority
from orchestration.events.publish import publish
from orchestration.executions import insert_execution
from orchestration.queue.sql_store import SqlQueueStore
from orchestration.queue.store import ReplayFilter, Settlement
from orchestration.queue.types import ClaimedEvent, HandlerOutcome, OutcomeKind
from shared.db.database import Database
from shared.errors import NotFoundError, ValidationFailedError
from shared.tenants import Tenant
from tests.integration.queue.conftest import MovableClock


async def _publish(
    db: Database,
    tenant: Tenant,
    priority: EventPriority = EventPriority.MEDIUM,
    event_type: str = "lead_qualified",
    max_retries: int = 3,
) -> CustomerEvent:
    event = CustomerEvent(tenantId=tenant.id, eventType=event_type, priority=priority)
    await publish(db, event, max_retries=max_retries)
    return event


def _done(event: ClaimedEvent, **result: object) -> Settlement:
    return Settlement(event, HandlerOutcome(OutcomeKind.COMPLETED, result=dict(result)))


def _retry(event: ClaimedEvent, message: str = "platform 503") -> Settlement:
    return Settlement(event, HandlerOutcome(OutcomeKind.RETRY, error={"message": message}))


async def _claim_one(store: SqlQueueStore, worker: str = "w1") -> ClaimedEvent:
    claimed = await store.claim(worker, limit=1, per_tenant=1)
    assert len(claimed) == 1
    return claimed[0]


async def test_claim_orders_by_priority_then_due_time(
    any_db: Database, tenant: Tenant, store: SqlQueueStore
) -> None:
    low = await _publish(any_db, tenant, EventPriority.LOW)
    first_medium = await _publish(any_db, tenant, EventPriority.MEDIUM)
    critical = await _publish(any_db, tenant, EventPriority.CRITICAL)
    second_medium = await _publish(any_db, tenant, EventPriority.MEDIUM)
    claimed = await store.claim("w1", limit=10, per_tenant=10)
    assert [c.event_id for c in claimed] == [
        critical.event_id,
        first_medium.event_id,
        second_medium.event_id,
        low.event_id,
    ]
    assert all(c.attempts == 1 for c in claimed)


async def test_claimed_event_is_not_claimed_again(
    any_db: Database, tenant: Tenant, store: SqlQueueStore
) -> None:
    await _publish(any_db, tenant)
    assert len(await store.claim("w1", limit=10, per_tenant=10)) == 1
    assert await store.claim("w2", limit=10, per_tenant=10) == []


async def test_ack_completes_event_with_its_result(
    any_db: Database, tenant: Tenant, store: SqlQueueStore
) -> None:
    await _publish(any_db, tenant)
    event = await _claim_one(store)
    report = await store.settle("w1", [_done(event, executions=2)])
    assert report.completed == 1
    stored = await store.get(event.id)
    assert stored is not None
    assert stored.status == "completed"
    assert stored.processing_result == {"executions": 2}
    assert stored.worker_id is None
    assert await store.claim("w1", limit=10, per_tenant=10) == []


async def test_retry_reschedules_with_backoff_and_keeps_error_history(
    any_db: Database, tenant: Tenant, store: SqlQueueStore, clock: MovableClock
) -> None:
    await _publish(any_db, tenant)
    event = await _claim_one(store)
    assert (await store.settle("w1", [_retry(event)])).retried == 1
    stored = await store.get(event.id)
    assert stored is not None and stored.status == "pending"
    assert stored.error_details is not None
    assert stored.error_details[0]["error"] == {"message": "platform 503"}
    assert stored.error_details[0]["attempt"] == 1
    # retry_base_s=10 with jitter in [5, 10] seconds: not due now, due after 10 s
    assert await store.claim("w1", limit=10, per_tenant=10) == []
    clock.advance(10.5)
    again = await _claim_one(store)
    assert again.attempts == 2


async def test_handler_retry_at_overrides_backoff(
    any_db: Database, tenant: Tenant, store: SqlQueueStore, clock: MovableClock
) -> None:
    await _publish(any_db, tenant)
    event = await _claim_one(store)
    later = clock() + timedelta(minutes=30)
    outcome = HandlerOutcome(OutcomeKind.RETRY, error={"message": "x"}, retry_at=later)
    await store.settle("w1", [Settlement(event, outcome)])
    clock.advance(29 * 60)
    assert await store.claim("w1", limit=10, per_tenant=10) == []
    clock.advance(61)
    assert len(await store.claim("w1", limit=10, per_tenant=10)) == 1


async def test_last_failed_attempt_dead_letters_with_every_error(
    any_db: Database, tenant: Tenant, store: SqlQueueStore, clock: MovableClock
) -> None:
    await _publish(any_db, tenant, max_retries=1)
    first = await _claim_one(store)
    await store.settle("w1", [_retry(first, "first failure")])
    clock.advance(11)
    second = await _claim_one(store)
    assert second.is_last_attempt
    report = await store.settle("w1", [_retry(second, "second failure")])
    assert report.dead_lettered == 1
    stored = await store.get(first.id)
    assert stored is not None and stored.status == "failed"
    assert [e["error"]["message"] for e in stored.error_details or []] == [
        "first failure",
        "second failure",
    ]
    clock.advance(1000)
    assert await store.claim("w1", limit=10, per_tenant=10) == []


async def test_failed_outcome_dead_letters_without_retrying(
    any_db: Database, tenant: Tenant, store: SqlQueueStore
) -> None:
    await _publish(any_db, tenant)
    event = await _claim_one(store)
    outcome = HandlerOutcome(OutcomeKind.FAILED, error={"message": "bad data: no email"})
    assert (await store.settle("w1", [Settlement(event, outcome)])).dead_lettered == 1
    assert (await store.counts()).get("failed") == 1


async def test_replay_by_id_requeues_with_fresh_attempts(
    any_db: Database, tenant: Tenant, store: SqlQueueStore
) -> None:
    await _publish(any_db, tenant, max_retries=0)
    event = await _claim_one(store)
    await store.settle("w1", [_retry(event)])
    assert await store.replay(ids=[event.id]) == 1
    again = await _claim_one(store)
    assert (again.id, again.attempts) == (event.id, 1)
    stored = await store.get(event.id)
    assert stored is not None and len(stored.error_details or []) == 1  # history kept


async def test_replay_by_filter_picks_only_matching_failures(
    any_db: Database, tenant: Tenant, other_tenant: Tenant, store: SqlQueueStore
) -> None:
    await _publish(any_db, tenant, event_type="deal_closed", max_retries=0)
    await _publish(any_db, tenant, event_type="lead_qualified", max_retries=0)
    await _publish(any_db, other_tenant, event_type="deal_closed", max_retries=0)
    claimed = await store.claim("w1", limit=10, per_tenant=10)
    await store.settle("w1", [_retry(c) for c in claimed])
    replayed = await store.replay(where=ReplayFilter(event_type="deal_closed", tenant_id=tenant.id))
    assert replayed == 1
    again = await store.claim("w1", limit=10, per_tenant=10)
    assert [(c.tenant_id, c.event_type) for c in again] == [(tenant.id, "deal_closed")]
    assert await store.replay(where=ReplayFilter(since=datetime.now(UTC) + timedelta(1))) == 0


async def test_replay_of_unknown_or_running_event_says_why(
    any_db: Database, tenant: Tenant, store: SqlQueueStore
) -> None:
    await _publish(any_db, tenant)
    event = await _claim_one(store)
    with pytest.raises(ValidationFailedError, match="is processing"):
        await store.replay(ids=[event.id])
    with pytest.raises(NotFoundError, match="not in the queue"):
        await store.replay(ids=[event.tenant_id])


async def test_reaper_returns_event_of_silent_worker_and_fences_its_late_ack(
    any_db: Database, tenant: Tenant, store: SqlQueueStore, clock: MovableClock
) -> None:
    await _publish(any_db, tenant)
    held = await _claim_one(store, "dead-worker")
    assert await store.reap(timedelta(seconds=30)) == 0  # lease still fresh
    clock.advance(31)
    assert await store.reap(timedelta(seconds=30)) == 1
    taken_over = await _claim_one(store, "w2")
    assert (taken_over.id, taken_over.attempts) == (held.id, 2)
    # the presumed-dead worker wakes up and acks: its lease is gone, nothing changes
    assert (await store.settle("dead-worker", [_done(held)])).completed == 1
    stored = await store.get(held.id)
    assert stored is not None and (stored.status, stored.worker_id) == ("processing", "w2")
    await store.settle("w2", [_done(taken_over, by="w2")])
    stored = await store.get(held.id)
    assert stored is not None and stored.processing_result == {"by": "w2"}
    assert stored.error_details and stored.error_details[0]["outcome"] == "lease_expired"


async def test_heartbeat_keeps_a_slow_event_from_being_reaped(
    any_db: Database, tenant: Tenant, store: SqlQueueStore, clock: MovableClock
) -> None:
    await _publish(any_db, tenant)
    await _claim_one(store)
    clock.advance(20)
    assert await store.heartbeat("w1") == 1
    clock.advance(20)
    assert await store.reap(timedelta(seconds=30)) == 0


async def test_reaper_dead_letters_an_event_that_keeps_killing_workers(
    any_db: Database, tenant: Tenant, store: SqlQueueStore, clock: MovableClock
) -> None:
    await _publish(any_db, tenant, max_retries=0)
    await _claim_one(store)
    clock.advance(31)
    assert await store.reap(timedelta(seconds=30)) == 1
    assert (await store.counts()).get("failed") == 1


async def test_release_hands_event_back_without_counting_the_attempt(
    any_db: Database, tenant: Tenant, store: SqlQueueStore
) -> None:
    await _publish(any_db, tenant)
    event = await _claim_one(store)
    assert await store.release("w1", [event.id]) == 1
    again = await _claim_one(store, "w2")
    assert again.attempts == 1


async def test_claim_says_whether_the_event_already_triggered_an_execution(
    any_db: Database, tenant: Tenant, store: SqlQueueStore
) -> None:
    # A first delivery has no execution to resume; after a run began and the event was
    # handed back (or replayed), the redelivery must say so, or the handler starts over.
    await _publish(any_db, tenant)
    first = await _claim_one(store)
    assert first.may_have_executions is False
    async with any_db.transaction() as conn:
        await insert_execution(
            conn, tenant_id=tenant.id, trigger_event_id=first.id, status="running"
        )
    assert await store.release("w1", [first.id]) == 1
    again = await _claim_one(store, "w2")
    assert (again.id, again.may_have_executions) == (first.id, True)


async def test_burst_of_one_tenant_does_not_delay_another_tenants_critical_event(
    any_db: Database, tenant: Tenant, other_tenant: Tenant, store: SqlQueueStore
) -> None:
    for _ in range(60):  # the burst: as urgent as it gets, and all older
        await _publish(any_db, tenant, EventPriority.CRITICAL)
    lone = await _publish(any_db, other_tenant, EventPriority.CRITICAL)
    first_batch = await store.claim("w1", limit=10, per_tenant=5)
    assert lone.event_id in [c.event_id for c in first_batch]
    assert sum(c.tenant_id == tenant.id for c in first_batch) == 5


async def test_other_tenants_events_interleave_round_robin(
    any_db: Database, tenant: Tenant, other_tenant: Tenant, store: SqlQueueStore
) -> None:
    for _ in range(6):
        await _publish(any_db, tenant)
    for _ in range(2):
        await _publish(any_db, other_tenant)
    batch = await store.claim("w1", limit=4, per_tenant=10)
    assert sorted(c.tenant_id == other_tenant.id for c in batch) == [False, False, True, True]


async def test_prune_deletes_only_old_completed_events(
    any_db: Database, tenant: Tenant, store: SqlQueueStore, clock: MovableClock
) -> None:
    for _ in range(3):
        await _publish(any_db, tenant)
    claimed = await store.claim("w1", limit=3, per_tenant=3)
    await store.settle("w1", [_done(claimed[0]), _retry(claimed[1])])
    clock.advance(8 * 86400)
    assert await store.prune(timedelta(days=7), batch=1) == 1
    counts = await store.counts()
    assert counts == {"pending": 1, "processing": 1}


async def test_round_robin_alone_puts_a_lone_critical_event_in_the_first_batch(
    any_db: Database, tenant: Tenant, other_tenant: Tenant, store: SqlQueueStore
) -> None:
    for _ in range(30):
        await _publish(any_db, tenant, EventPriority.CRITICAL)
    lone = await _publish(any_db, other_tenant, EventPriority.CRITICAL)
    first_batch = await store.claim("w1", limit=2, per_tenant=2)  # no cap below the batch
    assert lone.event_id in [c.event_id for c in first_batch]
