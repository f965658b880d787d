"""An execution the handler never had to write before its run ended goes with the
completed outcome (HandlerOutcome.executions) and is inserted with the event's
acknowledgement; for any other outcome it is on record before the queue hears it."""

from __future__ import annotations

import sqlalchemy as sa

from orchestration.events.models import CustomerEvent
from orchestration.events.publish import publish
from orchestration.queue.sql_store import SqlQueueStore
from orchestration.queue.store import Settlement
from orchestration.queue.types import OutcomeKind
from orchestration.workflows.handler import WorkflowEventHandler
from orchestration.workflows.store import save_definition
from shared.db.database import Database
from shared.db.schema import workflow_executions
from shared.tenants import create_tenant

NOOP = """
name: noop
trigger: {type: event, event_type: deal_closed}
steps:
  - {name: nothing, action: noop}
"""

STRICT = """
name: strict
trigger: {type: event, event_type: deal_closed}
steps:
  - {name: check, action: noop, condition: "amount > 5"}
"""


async def _statuses(db: Database) -> list[str]:
    async with db.engine.connect() as conn:
        return list((await conn.scalars(sa.select(workflow_executions.c.status))).all())


async def test_a_completed_run_is_recorded_by_the_acknowledgement(any_db: Database) -> None:
    tenant = await create_tenant(any_db, "acme")
    await save_definition(any_db, tenant.id, NOOP)
    await publish(any_db, CustomerEvent(tenantId=tenant.id, eventType="deal_closed"))
    store = SqlQueueStore(any_db)
    try:
        (event,) = await store.claim("w1", limit=1, per_tenant=1)
        outcome = await WorkflowEventHandler(any_db)(event)

        assert outcome.kind is OutcomeKind.COMPLETED
        (row,) = outcome.executions
        assert (row["trigger_event_id"], row["status"]) == (event.id, "completed")
        assert await _statuses(any_db) == []  # not written by the handler itself
        await store.settle("w1", [Settlement(event, outcome)])
    finally:
        await store.close()
    assert await _statuses(any_db) == ["completed"]
    assert outcome.result is not None
    assert outcome.result["executions"][0]["execution_id"] == str(row["id"])


async def test_a_failed_run_is_on_record_before_the_queue_hears(any_db: Database) -> None:
    tenant = await create_tenant(any_db, "acme")
    await save_definition(any_db, tenant.id, NOOP)
    await save_definition(any_db, tenant.id, STRICT)
    await publish(
        any_db,
        CustomerEvent(tenantId=tenant.id, eventType="deal_closed", eventData={"amount": "x"}),
    )
    store = SqlQueueStore(any_db)
    try:
        (event,) = await store.claim("w1", limit=1, per_tenant=1)
        outcome = await WorkflowEventHandler(any_db)(event)
    finally:
        await store.close()

    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.executions == ()  # a failed event's acknowledgement writes no execution
    assert sorted(await _statuses(any_db)) == ["completed", "failed"]
