"""publish(): validation, dedup on (tenant, eventId), priority, scheduling, the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from orchestration.events.custom_types import add_custom_event_types
from orchestration.events.models import CustomerEvent, EventPriority
from orchestration.events.publish import publish
from orchestration.queue.sql_store import SqlQueueStore
from shared.db.database import Database
from shared.db.schema import event_queue
from shared.errors import ValidationFailedError
from shared.tenants import Tenant
from tests.integration.queue.conftest import MovableClock


def _event(tenant: Tenant, **fields: object) -> CustomerEvent:
    values: dict[str, object] = {"tenant_id": tenant.id, "event_type": "lead_qualified"}
    values.update(fields)
    return CustomerEvent.model_validate(values)


async def _rows(db: Database) -> int:
    async with db.engine.connect() as conn:
        return (
            await conn.execute(sa.select(sa.func.count()).select_from(event_queue))
        ).scalar_one()


async def test_publish_queues_event_with_integer_priority(
    any_db: Database, tenant: Tenant, store: SqlQueueStore
) -> None:
    event = _event(
        tenant, customer_id="acct-1", priority=EventPriority.CRITICAL, event_data={"a": 1}
    )
    result = await publish(any_db, event)
    assert result.accepted
    stored = await store.get(result.queue_id)
    assert stored is not None
    assert (stored.status, stored.priority, stored.event_id) == ("pending", 1, event.event_id)
    assert stored.event_data == {"a": 1}
    assert stored.customer_id == "acct-1"


async def test_repeated_event_id_is_accepted_once(any_db: Database, tenant: Tenant) -> None:
    event = _event(tenant, event_id="webhook-123")
    first = await publish(any_db, event)
    again = await publish(any_db, event.model_copy(update={"event_data": {"changed": True}}))
    assert first.accepted and not first.duplicate
    assert again.duplicate
    assert again.queue_id == first.queue_id
    assert await _rows(any_db) == 1


async def test_same_event_id_in_two_tenants_is_two_events(
    any_db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    first = await publish(any_db, _event(tenant, event_id="same"))
    second = await publish(any_db, _event(other_tenant, event_id="same"))
    assert first.accepted and second.accepted
    assert first.queue_id != second.queue_id


async def test_unknown_event_type_is_refused_until_tenant_allows_it(
    any_db: Database, tenant: Tenant
) -> None:
    with pytest.raises(ValidationFailedError, match="unknown event type 'review_received'"):
        await publish(any_db, _event(tenant, event_type="review_received"))
    async with any_db.transaction() as conn:
        await add_custom_event_types(conn, tenant.id, ["review_received"])
    assert (await publish(any_db, _event(tenant, event_type="review_received"))).accepted


async def test_naive_schedule_time_is_refused(any_db: Database, tenant: Tenant) -> None:
    with pytest.raises(ValidationFailedError, match="no time zone"):
        await publish(any_db, _event(tenant), schedule_at=datetime(2030, 1, 1))


async def test_scheduled_event_is_not_claimed_before_its_time(
    any_db: Database, tenant: Tenant, store: SqlQueueStore, clock: MovableClock
) -> None:
    await publish(any_db, _event(tenant), schedule_at=datetime.now(UTC) + timedelta(hours=1))
    assert await store.claim("w1", limit=10, per_tenant=10) == []
    clock.advance(3601)
    assert len(await store.claim("w1", limit=10, per_tenant=10)) == 1


async def test_outbox_event_vanishes_when_caller_rolls_back(
    any_db: Database, tenant: Tenant
) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with any_db.transaction() as conn:
            result = await publish(conn, _event(tenant))
            assert result.accepted
            raise Boom
    assert await _rows(any_db) == 0


async def test_outbox_event_is_visible_after_caller_commits(
    any_db: Database, tenant: Tenant, store: SqlQueueStore
) -> None:
    async with any_db.transaction() as conn:
        result = await publish(conn, _event(tenant))
    assert (await store.get(result.queue_id)) is not None
    assert len(await store.claim("w1", limit=5, per_tenant=5)) == 1


async def test_runaway_chain_depth_is_refused(any_db: Database, tenant: Tenant) -> None:
    with pytest.raises(ValidationFailedError, match="looping"):
        await publish(any_db, _event(tenant), chain_depth=11)
