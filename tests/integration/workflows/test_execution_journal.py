"""The execution journal groups concurrent writes, on SQLite and Postgres."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import event as sa_event

from orchestration.execution_journal import ExecutionJournal
from orchestration.executions import ExecutionRecord, load_execution
from orchestration.workflows.store import save_definition
from shared.db.database import Database
from shared.db.types import utcnow

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


def _count_commits(db: Database) -> list[int]:
    """A list that grows by one with every transaction `db` commits from now on."""
    commits: list[int] = []
    sa_event.listen(db.engine.sync_engine, "commit", lambda _conn: commits.append(1))
    return commits


async def test_concurrent_writes_commit_in_fewer_transactions_and_each_caller_sees_its_own(
    db: Database, tenant_id: uuid.UUID
) -> None:
    journal = ExecutionJournal(db)
    commits = _count_commits(db)

    inserted = [journal.start(**_values(tenant_id)) for _ in range(40)]
    assert commits == []  # nothing is written until an update that waits, or a commit
    await asyncio.gather(*(journal.commit(r.id) for r in inserted))
    assert len({r.id for r in inserted}) == 40
    assert 0 < len(commits) < 40  # the first write goes alone, the rest together
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
    commits = _count_commits(db)
    started = journal.start(**_values(tenant_id))
    await journal.update(started.id, wait=False, status="completed", execution_time_ms=7)
    assert commits == []
    await journal.update(started.id, routing={"platform": "internal"})
    assert len(commits) == 1  # one INSERT carrying everything
    stored = await _stored(db, tenant_id, started.id)
    assert (stored.status, stored.execution_time_ms) == ("completed", 7)
    assert stored.routing == {"platform": "internal"}
    await journal.commit(started.id)  # nothing pending: no write
    assert len(commits) == 1


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
