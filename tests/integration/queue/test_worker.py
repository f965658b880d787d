"""The worker on SQLite and Postgres: drain, wake-ups, handler errors, graceful stop."""

from __future__ import annotations

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


def _config(**overrides: float) -> QueueConfig:
    values: dict[str, float] = {"concurrency": 4, "batch_size": 5, "poll_interval_s": 30.0}
    values.update(overrides)
    return QueueConfig.model_validate(values)


async def _publish_many(db: Database, tenant: Tenant, n: int) -> None:
    for _ in range(n):
        await publish(db, CustomerEvent(tenantId=tenant.id, eventType="deal_closed"))


async def test_drain_handles_every_event_then_exits(any_db: Database, tenant: Tenant) -> None:
    await _publish_many(any_db, tenant, 12)
    seen: list[str] = []

    async def handler(event: ClaimedEvent) -> HandlerOutcome:
        seen.append(event.event_id)
        return HandlerOutcome(OutcomeKind.COMPLETED, result={"ok": True})

    worker = create_worker(any_db, handler, config=_config())
    with anyio.fail_after(20):
        stats = await worker.run(drain=True)
    assert stats.completed == 12
    assert len(set(seen)) == 12
    assert await SqlQueueStore(any_db).counts() == {"completed": 12}


async def test_idle_worker_wakes_when_an_event_is_published(
    any_db: Database, tenant: Tenant
) -> None:
    handled = anyio.Event()

    async def handler(event: ClaimedEvent) -> HandlerOutcome:
        handled.set()
        return HandlerOutcome(OutcomeKind.COMPLETED)

    worker = create_worker(any_db, handler, config=_config(poll_interval_s=60))
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        await anyio.sleep(0.2)  # let it go idle on its wake-up (polling alone would take 60 s)
        await _publish_many(any_db, tenant, 1)
        with anyio.fail_after(10):
            await handled.wait()
        worker.stop()
    assert worker.stats.completed == 1


async def test_handler_exception_becomes_a_retry_with_the_error(
    any_db: Database, tenant: Tenant
) -> None:
    await _publish_many(any_db, tenant, 1)

    async def handler(event: ClaimedEvent) -> HandlerOutcome:
        raise RuntimeError("n8n said no")

    worker = create_worker(any_db, handler, config=_config(retry_base_s=600))
    with anyio.fail_after(20):
        stats = await worker.run(drain=True)
    assert stats.retried == 1
    [event] = await SqlQueueStore(any_db).list_events()
    assert event.status == "pending"
    assert event.error_details is not None
    assert event.error_details[0]["error"] == {"type": "RuntimeError", "message": "n8n said no"}


async def test_graceful_stop_lets_in_flight_event_finish(any_db: Database, tenant: Tenant) -> None:
    await _publish_many(any_db, tenant, 1)
    started, release = anyio.Event(), anyio.Event()

    async def handler(event: ClaimedEvent) -> HandlerOutcome:
        started.set()
        await release.wait()
        return HandlerOutcome(OutcomeKind.COMPLETED)

    worker = create_worker(any_db, handler, config=_config(shutdown_grace_s=10))
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        with anyio.fail_after(10):
            await started.wait()
        worker.stop()
        await anyio.sleep(0.05)
        release.set()
    assert worker.stats.completed == 1
    assert await SqlQueueStore(any_db).counts() == {"completed": 1}


@pytest.mark.parametrize("grace", [0.0, 0.2])
async def test_graceful_stop_releases_what_does_not_finish_in_time(
    any_db: Database, tenant: Tenant, grace: float
) -> None:
    await _publish_many(any_db, tenant, 3)
    started = anyio.Event()

    async def handler(event: ClaimedEvent) -> HandlerOutcome:
        started.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    worker = create_worker(any_db, handler, config=_config(shutdown_grace_s=grace))
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        with anyio.fail_after(10):
            await started.wait()
        worker.stop()
    assert worker.stats.released == 3
    events = await SqlQueueStore(any_db).list_events()
    assert [(e.status, e.attempts, e.worker_id) for e in events] == [("pending", 0, None)] * 3
