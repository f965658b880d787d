from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import anyio
import sqlalchemy as sa

from orchestration.queue.types import OutcomeKind
from orchestration.workflows.handler import WorkflowEventHandler
from orchestration.workflows.schedules import fire_due_schedules, latest_tick
from orchestration.workflows.store import save_definition
from shared.db.database import Database
from shared.db.orchestration_tables import event_queue, workflow_definitions
from shared.db.types import utcnow
from tests.integration.workflows.fakes import fake_services, queued_event

HOURLY = """name: Hourly sweep
trigger: {type: schedule, cron: "0 * * * *"}
steps:
  - {name: sweep, action: query_crm, table: customer_health_scores}
"""


def test_latest_tick_includes_an_exact_tick_and_otherwise_the_previous_one() -> None:
    at = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    assert latest_tick("0 6 * * *", at) == at
    assert latest_tick("0 6 * * *", at - timedelta(seconds=1)) == at - timedelta(days=1)
    assert latest_tick("0 0 * * 1", datetime(2026, 3, 4, tzinfo=UTC)) == datetime(
        2026, 3, 2, tzinfo=UTC
    )


async def test_a_tick_fires_once_however_many_workers_see_it(
    db: Database, tenant_id: uuid.UUID
) -> None:
    await save_definition(db, tenant_id, HOURLY)
    now = utcnow() + timedelta(hours=1)  # the next hour's tick is after the definition was made
    results: list[bool] = []

    async def worker_pass() -> None:
        results.extend(t.accepted for t in await fire_due_schedules(db, now=now))

    async with anyio.create_task_group() as workers:
        for _ in range(4):
            workers.start_soon(worker_pass)

    assert sorted(results) == [False, False, False, True]
    async with db.engine.connect() as conn:
        ids = (await conn.execute(sa.select(event_queue.c.event_id))).scalars().all()
    assert len(ids) == 1 and ids[0].startswith("schedule:")
    # The queued tick runs the workflow it names.
    services, _, _ = fake_services()
    outcome = await WorkflowEventHandler(db, services)(await queued_event(db, "schedule_tick"))
    assert outcome.kind is OutcomeKind.COMPLETED
    assert outcome.result and outcome.result["executions"][0]["workflow"] == "Hourly sweep"


async def test_a_tick_before_the_definition_existed_does_not_fire(
    db: Database, tenant_id: uuid.UUID
) -> None:
    await save_definition(db, tenant_id, HOURLY)
    fired = await fire_due_schedules(db, now=utcnow() - timedelta(hours=2))
    assert fired == []


async def test_a_stored_cron_that_never_fires_is_skipped_and_the_others_still_fire(
    db: Database, tenant_id: uuid.UUID
) -> None:
    await save_definition(db, tenant_id, HOURLY)
    never = await save_definition(db, tenant_id, HOURLY.replace("Hourly sweep", "Never"))
    # Saved before save-time checks refused such crons: Feb 31st never comes.
    async with db.transaction() as conn:
        await conn.execute(
            sa.update(workflow_definitions)
            .where(workflow_definitions.c.id == never.stored.id)
            .values(trigger_conditions={"cron": "0 0 31 2 *"})
        )
    fired = await fire_due_schedules(db, now=utcnow() + timedelta(hours=1))
    assert [t.workflow for t in fired] == ["Hourly sweep"]
