"""Group commit for webhook ingest: concurrent deliveries share transactions, each is
answered only once its row is committed, a refused event fails alone, and a shutdown
answers every waiter."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import anyio
import pytest
import sqlalchemy as sa

from orchestration.events.models import CustomerEvent
from orchestration.events.publish import PublishResult
from orchestration.events.publish_batch import BatchOutcome
from servers.http.ingest import GroupPublisher
from shared.db.database import Database
from shared.db.schema import event_queue
from shared.errors import SwitchboardError, ValidationFailedError
from shared.tenants import create_tenant


class CountingPublisher(GroupPublisher):
    """Records the size of every batch it writes."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.batches: list[int] = []

    async def _write(self, events: Sequence[CustomerEvent]) -> list[BatchOutcome]:
        self.batches.append(len(events))
        return await super()._write(events)


def event(tenant_id: uuid.UUID, event_id: str, event_type: str = "lead_qualified") -> CustomerEvent:
    return CustomerEvent.model_validate(
        {"eventId": event_id, "tenantId": tenant_id, "eventType": event_type}
    )


async def committed(db: Database, event_id: str) -> bool:
    """Whether another connection sees the row: it is committed, not merely written."""
    async with db.engine.connect() as conn:
        query = sa.select(sa.func.count()).where(event_queue.c.event_id == event_id)
        return (await conn.execute(query)).scalar_one() == 1


async def test_concurrent_deliveries_share_commits_and_are_answered_after_them(
    any_db: Database,
) -> None:
    tenant = await create_tenant(any_db, "acme")
    publisher = CountingPublisher(any_db)
    answered: dict[str, PublishResult] = {}
    seen_committed: dict[str, bool] = {}

    async def deliver(event_id: str) -> None:
        answered[event_id] = await publisher.publish(event(tenant.id, event_id))
        seen_committed[event_id] = await committed(any_db, event_id)

    async with anyio.create_task_group() as collector:
        collector.start_soon(publisher.run)
        await anyio.wait_all_tasks_blocked()
        async with anyio.create_task_group() as senders:
            for i in range(60):
                senders.start_soon(deliver, f"d{i}")
        collector.cancel_scope.cancel()

    assert all(result.accepted for result in answered.values())
    assert len({result.queue_id for result in answered.values()}) == 60
    assert all(seen_committed.values())
    assert sum(publisher.batches) == 60
    assert len(publisher.batches) < 60  # grouped, not one transaction per delivery


async def test_a_refused_event_fails_alone_and_a_redelivery_is_a_duplicate(
    any_db: Database,
) -> None:
    tenant = await create_tenant(any_db, "acme")
    publisher = GroupPublisher(any_db)
    outcomes: dict[str, PublishResult | SwitchboardError] = {}
    redelivered: PublishResult | None = None

    async def deliver(key: str, item: CustomerEvent) -> None:
        try:
            outcomes[key] = await publisher.publish(item)
        except SwitchboardError as exc:
            outcomes[key] = exc

    async with anyio.create_task_group() as collector:
        collector.start_soon(publisher.run)
        await anyio.wait_all_tasks_blocked()
        async with anyio.create_task_group() as senders:
            senders.start_soon(deliver, "good", event(tenant.id, "good"))
            senders.start_soon(deliver, "typo", event(tenant.id, "typo", "lead_qualifd"))
            senders.start_soon(deliver, "again", event(tenant.id, "good"))
        redelivered = await publisher.publish(event(tenant.id, "good"))
        collector.cancel_scope.cancel()

    good, again = outcomes["good"], outcomes["again"]
    assert isinstance(good, PublishResult) and isinstance(again, PublishResult)
    assert {good.accepted, again.accepted} == {True, False}
    assert redelivered is not None and redelivered.duplicate
    assert good.queue_id == again.queue_id == redelivered.queue_id
    assert isinstance(outcomes["typo"], ValidationFailedError)


async def test_without_a_collector_each_event_is_published_alone(sqlite_db: Database) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    result = await GroupPublisher(sqlite_db).publish(event(tenant.id, "solo"))
    assert result.accepted
    assert await committed(sqlite_db, "solo")


async def test_a_shutdown_finishes_the_batch_being_written_and_answers_the_rest(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    publisher = GroupPublisher(sqlite_db)
    writing, release = anyio.Event(), anyio.Event()
    original = GroupPublisher._write  # pyright: ignore[reportPrivateUsage]

    async def slow_write(
        self: GroupPublisher, events: Sequence[CustomerEvent]
    ) -> list[BatchOutcome]:
        writing.set()
        await release.wait()
        return await original(self, events)

    monkeypatch.setattr(GroupPublisher, "_write", slow_write)
    outcomes: dict[str, PublishResult | SwitchboardError] = {}

    async def deliver(event_id: str) -> None:
        try:
            outcomes[event_id] = await publisher.publish(event(tenant.id, event_id))
        except SwitchboardError as exc:
            outcomes[event_id] = exc

    with anyio.fail_after(10):
        async with anyio.create_task_group() as senders, anyio.create_task_group() as collector:
            collector.start_soon(publisher.run)
            await anyio.wait_all_tasks_blocked()
            senders.start_soon(deliver, "in-flight")
            await writing.wait()  # the first batch is being written
            senders.start_soon(deliver, "waiting")
            await anyio.wait_all_tasks_blocked()  # handed over, not yet collected
            collector.cancel_scope.cancel()  # shutdown: the batch being written is shielded
            release.set()

    in_flight, waiting = outcomes["in-flight"], outcomes["waiting"]
    assert isinstance(in_flight, PublishResult) and in_flight.accepted
    assert await committed(sqlite_db, "in-flight")
    assert isinstance(waiting, SwitchboardError)
    assert "shutting down" in str(waiting)
    assert not await committed(sqlite_db, "waiting")


async def test_a_lost_postgres_connection_is_replaced_and_the_batch_retried(
    postgres_db: Database,
) -> None:
    tenant = await create_tenant(postgres_db, "acme")
    publisher = GroupPublisher(postgres_db)
    after: PublishResult | None = None
    async with anyio.create_task_group() as collector:
        collector.start_soon(publisher.run)
        await anyio.wait_all_tasks_blocked()
        assert (await publisher.publish(event(tenant.id, "before"))).accepted
        async with postgres_db.engine.connect() as admin:  # the server drops the kept connection
            dropped = await admin.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            assert any(row[0] for row in dropped)
        after = await publisher.publish(event(tenant.id, "after"))
        collector.cancel_scope.cancel()
    assert after is not None and after.accepted
    assert await committed(postgres_db, "after")
