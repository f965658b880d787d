"""The execution journal groups concurrent writes, on SQLite and Postgres."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import sqlalchemy as sa

from orchestration.execution_journal import ExecutionJournal
from orchestration.executions import ExecutionRecord, load_execution
from orchestration.workflows.store import save_definition
from shared.db.database import Database
from shared.db.orchestration_tables import workflow_executions
from shared.db.types import utcnow
from shared.tenants import create_tenant

ONE_STEP = """name: journal test
trigger: {type: event, event_type: deal_closed}
steps:
  - name: nothing
    action: noop
"""


def _values(tenant_id: uuid.UUID, **extra: Any) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "trigger_event_id": uuid.uuid4(),
        "status": "running",
        "started_at": utcnow(),
        "workflow_version": 3,
        "retry_count": 0,
        "external_api_calls": 0,
        "step_state": {"workflow_name": "journal test", "steps": {}},
        **extra,
    }


async def _stored(db: Database, tenant_id: uuid.UUID, execution_id: uuid.UUID) -> ExecutionRecord:
    async with db.engine.connect() as conn:
        found = await load_execution(conn, tenant_id, execution_id)
    assert found is not None
    return found


async def test_concurrent_writes_commit_in_fewer_transactions_and_each_caller_sees_its_own(
    db: Database, tenant_id: uuid.UUID
) -> None:
    journal = ExecutionJournal(db)

    inserted = [journal.start(**_values(tenant_id)) for _ in range(40)]
    assert journal.transactions == 0  # nothing is written until a waited update or a commit
    await asyncio.gather(*(journal.commit(r.id) for r in inserted))
    assert len({r.id for r in inserted}) == 40
    assert 0 < journal.transactions < 40  # the first write goes alone, the rest together
    await asyncio.gather(
        *(
            journal.update(r.id, status="completed", execution_time_ms=i)
            for i, r in enumerate(inserted)
        )
    )

    for i, record in enumerate(inserted):
        stored = await _stored(db, tenant_id, record.id)
        assert (stored.status, stored.execution_time_ms) == ("completed", i)
        assert stored.workflow_name == record.workflow_name == "journal test"
        assert stored.trigger_event_id == record.trigger_event_id
        assert stored.workflow_version == record.workflow_version == 3


async def test_a_write_that_fails_fails_only_its_caller(db: Database, tenant_id: uuid.UUID) -> None:
    journal = ExecutionJournal(db)
    good = journal.start(**_values(tenant_id))
    await journal.commit(good.id)
    no_such_tenant = uuid.uuid4()  # the foreign key refuses this row
    refused, other = journal.start(**_values(no_such_tenant)), journal.start(**_values(tenant_id))
    updated, refusal, committed = await asyncio.gather(
        journal.update(good.id, status="completed"),
        journal.commit(refused.id),
        journal.commit(other.id),
        return_exceptions=True,
    )
    assert updated is None and committed is None
    assert isinstance(refusal, Exception)
    assert (await _stored(db, tenant_id, good.id)).status == "completed"
    assert (await _stored(db, tenant_id, other.id)).status == "running"


async def test_pending_values_are_written_once_with_the_next_waited_update(
    db: Database, tenant_id: uuid.UUID
) -> None:
    journal = ExecutionJournal(db)
    started = journal.start(**_values(tenant_id))
    await journal.update(started.id, wait=False, status="completed", execution_time_ms=7)
    assert journal.transactions == 0
    await journal.update(started.id, routing={"platform": "internal"})
    assert journal.transactions == 1  # one INSERT carrying everything
    stored = await _stored(db, tenant_id, started.id)
    assert (stored.status, stored.execution_time_ms) == ("completed", 7)
    assert stored.routing == {"platform": "internal"}
    await journal.commit(started.id)  # nothing pending: no write
    assert journal.transactions == 1


async def test_a_discarded_start_writes_nothing(db: Database, tenant_id: uuid.UUID) -> None:
    journal = ExecutionJournal(db)
    started = journal.start(**_values(tenant_id))
    await journal.update(started.id, wait=False, status="completed")
    journal.discard(started.id)
    await journal.commit(started.id)
    async with db.engine.connect() as conn:
        assert await load_execution(conn, tenant_id, started.id) is None


async def test_find_answers_each_event_and_workflow_pair(
    db: Database, tenant_id: uuid.UUID
) -> None:
    definition = (await save_definition(db, tenant_id, ONE_STEP)).stored
    journal = ExecutionJournal(db)
    started = journal.start(**_values(tenant_id, workflow_definition_id=definition.id))
    await journal.commit(started.id)
    assert started.trigger_event_id is not None

    found, other_workflow, other_event = await asyncio.gather(
        journal.find(started.trigger_event_id, definition.id),
        journal.find(started.trigger_event_id, uuid.uuid4()),
        journal.find(uuid.uuid4(), definition.id),
    )

    assert found is not None and found.id == started.id
    assert found.workflow_name == "journal test"
    assert other_workflow is None and other_event is None


async def _row_as_text(db: Database, execution_id: uuid.UUID) -> dict[str, Any]:
    x = workflow_executions
    columns = [sa.cast(c, sa.Text()).label(c.name) for c in x.c if c.name not in ("id",)]
    async with db.engine.connect() as conn:
        row = (await conn.execute(sa.select(*columns).where(x.c.id == execution_id))).mappings()
        return dict(row.one())


async def test_the_asyncpg_path_writes_the_values_sqlalchemy_wrote(
    postgres_db: Database,
) -> None:
    db = postgres_db
    tenant_id = (await create_tenant(db, "raw-vs-sqlalchemy")).id
    definition = (await save_definition(db, tenant_id, ONE_STEP)).stored
    fast, slow = ExecutionJournal(db), ExecutionJournal(db)
    slow._writes = None  # pyright: ignore[reportPrivateUsage]
    started_at = utcnow()
    every_column = _values(
        tenant_id,
        workflow_definition_id=definition.id,
        trigger_event_id=uuid.UUID(int=7),
        customer_id=uuid.UUID(int=8),
        execution_platform="internal",
        started_at=started_at,
        routing={"platform": "internal", "attempts": [{"n": 1}], "none": None},
        error_details=None,  # JSON null, as SQLAlchemy writes it: not SQL NULL
        step_state={"steps": {"a": {"output": [1, 2.5, "x", True, None]}}, "workflow_name": "j"},
    )
    rows: list[dict[str, Any]] = []
    for journal in (fast, slow):
        record = journal.start(**every_column)
        await journal.commit(record.id)
        await journal.update(
            record.id,
            status="completed",
            completed_at=started_at,
            execution_result={"outputs": {}, "skipped": []},
            memory_usage_mb=12.345,
            execution_time_ms=17,
            resume_at=None,
            retry_count=2,
        )
        rows.append(await _row_as_text(db, record.id))
    fast_row, slow_row = rows
    assert fast_row.pop("created_at") is not None and slow_row.pop("created_at") is not None
    assert fast_row == slow_row
    assert fast_row["error_details"] == "null" and fast_row["resume_at"] is None
    assert fast_row["memory_usage_mb"] == "12.35"
