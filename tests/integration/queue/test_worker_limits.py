"""The worker's limits on SQLite and Postgres: handler timeouts follow the retry policy, a
handler whose event was reaped is cancelled and records nothing, and a scheduled event
wakes an idle worker at its time without a NOTIFY or a poll."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

from orchestration.events.models import CustomerEvent
from orchestration.events.publish import publish
from orchestration.queue.config import QueueConfig
from orchestration.queue.sql_store import SqlQueueStore
from orchestration.queue.types import ClaimedEvent, HandlerOutcome, OutcomeKind
from orchestration.worker import create_worker
from shared.db.database import Database
from shared.tenants import Tenant
from tests.integration.queue.conftest import MovableClock


def _config(**overrides: float) -> QueueConfig:
    values: dict[str, float] = {"concurrency": 4, "batch_size": 4, "poll_interval_s": 30.0}
    values.update(overrides)
    return QueueConfig.model_validate(values)


async def _publish(db: Database, tenant: Tenant, *, max_retries: int = 3) -> None:
    await publish(
        db, CustomerEvent(tenantId=tenant.id, eventType="deal_closed"), max_retries=max_retries
    )


@pytest.mark.parametrize(("max_retries", "status"), [(3, "pending"), (0, "failed")])
async def test_a_timed_out_handler_is_a_failed_attempt_under_the_retry_policy(
    any_db: Database, tenant: Tenant, max_retries: int, status: str
) -> None:
    await _publish(any_db, tenant, max_retries=max_retries)
    cancelled = anyio.Event()

    async def handler(event: ClaimedEvent) -> HandlerOutcome:
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()
        raise AssertionError("unreachable")

    worker = create_worker(any_db, handler, config=_config(handler_timeout_s=0.2, retry_base_s=600))
    with anyio.fail_after(20):
        stats = await worker.run(drain=True)

    assert cancelled.is_set()
    assert stats.timed_out == 1
    assert (stats.retried, stats.dead_lettered) == ((1, 0) if status == "pending" else (0, 1))
    [event] = await SqlQueueStore(any_db).list_events()
    assert (event.status, event.attempts) == (status, 1)
    assert event.error_details is not None
    assert event.error_details[-1]["error"]["type"] == "handler_timeout"
    if status == "pending":  # backed off per the policy, not retried at once
        assert event.scheduled_for is not None
        assert event.scheduled_for > datetime.now(UTC) + timedelta(seconds=200)


async def test_a_handler_whose_event_was_reaped_is_cancelled_and_records_nothing(
    any_db: Database, tenant: Tenant
) -> None:
    await _publish(any_db, tenant)
    started, cancelled = anyio.Event(), anyio.Event()

    async def handler(event: ClaimedEvent) -> HandlerOutcome:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()
        raise AssertionError("unreachable")

    worker = create_worker(
        any_db, handler, config=_config(heartbeat_interval_s=0.05, visibility_timeout_s=60)
    )
    # Another worker's reaper, a minute and a half later: this worker looks dead to it.
    later = MovableClock()
    later.advance(90)
    reaper = SqlQueueStore(any_db, clock=later)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        with anyio.fail_after(10):
            await started.wait()
        assert await reaper.reap(timedelta(seconds=60)) == 1
        with anyio.fail_after(10):
            await cancelled.wait()
        worker.stop()
    await reaper.close()

    assert worker.stats.lost_leases == 1
    assert (worker.stats.completed, worker.stats.retried, worker.stats.released) == (0, 0, 0)
    [event] = await SqlQueueStore(any_db).list_events()
    assert (event.status, event.worker_id, event.processing_result) == ("pending", None, None)
    assert event.error_details is not None
    assert [e["outcome"] for e in event.error_details] == ["lease_expired"]


async def test_an_idle_worker_wakes_for_a_scheduled_event_at_its_time(
    any_db: Database, tenant: Tenant
) -> None:
    handled = anyio.Event()

    async def handler(event: ClaimedEvent) -> HandlerOutcome:
        handled.set()
        return HandlerOutcome(OutcomeKind.COMPLETED)

    worker = create_worker(any_db, handler, config=_config(poll_interval_s=60))
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        due = datetime.now(UTC) + timedelta(seconds=0.5)
        event = CustomerEvent(tenantId=tenant.id, eventType="deal_closed")
        await publish(any_db, event, schedule_at=due)
        with anyio.fail_after(15):  # polling alone would take 60 s
            await handled.wait()
        assert datetime.now(UTC) >= due
        worker.stop()
    assert worker.stats.completed == 1
