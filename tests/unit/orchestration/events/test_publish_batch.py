"""Publishing a batch in one statement: the same rows and the same deduplication as
publishing one by one, and a refused event fails alone."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from orchestration.events.custom_types import add_custom_event_types
from orchestration.events.models import CustomerEvent
from orchestration.events.publish import PublishResult, publish
from orchestration.events.publish_batch import publish_batch_in
from shared.db.database import Database
from shared.db.schema import event_queue
from shared.errors import NotFoundError, SwitchboardError, ValidationFailedError
from shared.tenants import create_tenant


def event(tenant_id: uuid.UUID, event_id: str, **fields: Any) -> CustomerEvent:
    return CustomerEvent.model_validate(
        {
            "eventId": event_id,
            "tenantId": tenant_id,
            "eventType": "lead_qualified",
            "customerId": "acct-1",
            "eventData": {"qualification_score": 91},
            **fields,
        }
    )


async def rows(db: Database) -> list[sa.RowMapping]:
    async with db.engine.connect() as conn:
        query = sa.select(event_queue).order_by(event_queue.c.event_id)
        return list((await conn.execute(query)).mappings().all())


def results(outcomes: list[PublishResult | SwitchboardError]) -> list[PublishResult]:
    assert all(isinstance(o, PublishResult) for o in outcomes), outcomes
    return [o for o in outcomes if isinstance(o, PublishResult)]


async def test_a_batch_writes_the_rows_publish_writes(any_db: Database) -> None:
    tenant = await create_tenant(any_db, "acme")
    await publish(any_db, event(tenant.id, "alone", priority="critical", source="n8n"))
    async with any_db.transaction() as conn:
        outcomes = await publish_batch_in(
            conn, [event(tenant.id, "batched", priority="critical", source="n8n")]
        )
    [result] = results(outcomes)
    assert result.accepted
    alone, batched = await rows(any_db)
    assert batched["id"] == result.queue_id
    differing = {"id", "event_id", "created_at", "updated_at", "scheduled_for", "occurred_at"}
    assert {k: v for k, v in alone.items() if k not in differing} == {
        k: v for k, v in batched.items() if k not in differing
    }
    assert batched["priority"] == 1
    assert (batched["status"], batched["event_source"]) == ("pending", "n8n")


async def test_duplicates_of_queued_events_and_within_the_batch_queue_nothing(
    any_db: Database,
) -> None:
    tenant = await create_tenant(any_db, "acme")
    earlier = await publish(any_db, event(tenant.id, "seen"))
    batch = [event(tenant.id, "new"), event(tenant.id, "seen"), event(tenant.id, "new")]
    async with any_db.transaction() as conn:
        new, seen, repeat = results(await publish_batch_in(conn, batch))
    assert new.accepted
    assert (seen.accepted, seen.queue_id) == (False, earlier.queue_id)
    assert (repeat.accepted, repeat.queue_id) == (False, new.queue_id)
    assert [r["event_id"] for r in await rows(any_db)] == ["new", "seen"]


async def test_an_unknown_event_type_fails_alone_and_a_custom_type_is_allowed(
    any_db: Database,
) -> None:
    tenant = await create_tenant(any_db, "acme")
    async with any_db.transaction() as conn:
        await add_custom_event_types(conn, tenant.id, ["review_received"])
    batch = [
        event(tenant.id, "typo", eventType="lead_qualifed"),
        event(tenant.id, "custom", eventType="review_received"),
        event(tenant.id, "platform", eventType="clickup_task_status_updated"),
    ]
    async with any_db.transaction() as conn:
        typo, custom, platform = await publish_batch_in(conn, batch)
    assert isinstance(typo, ValidationFailedError)
    assert "unknown event type 'lead_qualifed'" in str(typo)
    assert isinstance(custom, PublishResult) and custom.accepted
    assert isinstance(platform, PublishResult) and platform.accepted
    assert [r["event_id"] for r in await rows(any_db)] == ["custom", "platform"]


async def test_an_event_the_store_refuses_fails_alone(any_db: Database) -> None:
    tenant = await create_tenant(any_db, "acme")
    missing = uuid.uuid4()  # no such tenant: the insert breaks the foreign key
    batch = [event(tenant.id, "a"), event(missing, "b"), event(tenant.id, "c")]
    async with any_db.transaction() as conn:
        a, b, c = await publish_batch_in(conn, batch)
    assert isinstance(a, PublishResult) and a.accepted
    assert isinstance(b, SwitchboardError)
    assert "retry later" in str(b)
    assert isinstance(c, PublishResult) and c.accepted
    assert [r["event_id"] for r in await rows(any_db)] == ["a", "c"]


async def test_an_unknown_tenant_with_a_custom_type_is_not_found(sqlite_db: Database) -> None:
    async with sqlite_db.transaction() as conn:
        [outcome] = await publish_batch_in(conn, [event(uuid.uuid4(), "x", eventType="custom_x")])
    assert isinstance(outcome, NotFoundError)


async def test_a_batch_larger_than_one_statement_is_queued_whole(sqlite_db: Database) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    batch = [event(tenant.id, f"e{i:04d}") for i in range(1_200)]
    async with sqlite_db.transaction() as conn:
        outcomes = results(await publish_batch_in(conn, batch))
    assert all(o.accepted for o in outcomes)
    assert len({o.queue_id for o in outcomes}) == 1_200
    assert len(await rows(sqlite_db)) == 1_200
    async with sqlite_db.transaction() as conn:  # and all of them again: all duplicates
        again = results(await publish_batch_in(conn, batch))
    assert [o.queue_id for o in again] == [o.queue_id for o in outcomes]
    assert not any(o.accepted for o in again)


async def test_autocommit_batches_commit_per_statement_and_a_refusal_fails_alone(
    postgres_db: Database,
) -> None:
    tenant = await create_tenant(postgres_db, "acme")
    batch = [event(tenant.id, f"e{i:04d}") for i in range(700)]  # two statements
    batch[600] = event(uuid.uuid4(), "orphan")  # no such tenant: the second statement fails
    async with postgres_db.engine.connect() as raw:
        conn = await raw.execution_options(isolation_level="AUTOCOMMIT")
        outcomes = await publish_batch_in(conn, batch, autocommit=True)
        async with postgres_db.engine.connect() as other:  # committed, seen from elsewhere
            count = (await other.execute(sa.select(sa.func.count(event_queue.c.id)))).scalar()
    assert isinstance(outcomes[600], SwitchboardError)
    accepted = [o for i, o in enumerate(outcomes) if i != 600]
    assert all(isinstance(o, PublishResult) and o.accepted for o in accepted)
    assert count == 699
