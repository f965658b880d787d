"""A completed event's workflow executions are inserted by the statement that acknowledges
it (HandlerOutcome.executions; queue/pg_complete.py on Postgres, the same transaction on
SQLite): written exactly as the execution journal writes them, only while the worker still
holds the event, and a row the database refuses costs only its own event an attempt."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from orchestration.events.models import CustomerEvent
from orchestration.events.publish import publish
from orchestration.execution_journal import ExecutionJournal
from orchestration.queue.sql_store import SqlQueueStore
from orchestration.queue.store import Settlement
from orchestration.queue.types import ClaimedEvent, HandlerOutcome, OutcomeKind
from orchestration.workflows.store import save_definition
from shared.db.database import Database
from shared.db.schema import event_queue, workflow_executions
from shared.tenants import create_tenant

NOOP = """
name: noop
trigger: {type: event, event_type: deal_closed}
steps:
  - {name: nothing, action: noop}
"""


async def _setup(db: Database, events: int) -> tuple[uuid.UUID, uuid.UUID, SqlQueueStore]:
    tenant = await create_tenant(db, "acme")
    definition = await save_definition(db, tenant.id, NOOP)
    for n in range(events):
        await publish(
            db, CustomerEvent(tenantId=tenant.id, eventType="deal_closed", eventId=str(n))
        )
    return tenant.id, definition.stored.id, SqlQueueStore(db)


def _values(event: ClaimedEvent, definition_id: uuid.UUID, **extra: Any) -> dict[str, Any]:
    """What the workflow handler starts and finishes an execution with."""
    at = datetime(2026, 11, 27, 5, 0, 1, 250000, tzinfo=UTC)
    return {
        "workflow_definition_id": definition_id,
        "tenant_id": event.tenant_id,
        "trigger_event_id": event.id,
        "execution_platform": "internal",
        "customer_id": None,
        "status": "completed",
        "started_at": at,
        "completed_at": at,
        "workflow_version": 1,
        "routing": {"platform": "internal", "attempts": [{"outcome": "completed"}]},
        "retry_count": 0,
        "external_api_calls": 0,
        "execution_time_ms": 3,
        "memory_usage_mb": 81.25,
        "execution_result": {"outputs": {"nothing": None}, "skipped": [], "failed_steps": []},
        "step_state": {"workflow_name": "noop", "steps": {"nothing": {"status": "completed"}}},
        "resume_at": None,
        "error_details": None,
        **extra,
    }


async def _handed_over(journal: ExecutionJournal, values: dict[str, Any]) -> dict[str, Any]:
    execution = journal.start(**values)
    row = await journal.hand_over(execution.id)
    assert row is not None  # never written: it goes with the acknowledgement
    return row


async def _executions(db: Database) -> dict[uuid.UUID | None, dict[str, Any]]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(sa.select(workflow_executions))
        return {row["trigger_event_id"]: dict(row) for row in rows.mappings()}


async def _statuses(db: Database) -> dict[uuid.UUID, sa.RowMapping]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(sa.select(event_queue))
        return {row["id"]: row for row in rows.mappings()}


async def test_completed_events_get_the_rows_the_journal_would_write(any_db: Database) -> None:
    tenant_id, definition_id, store = await _setup(any_db, 3)
    journal = ExecutionJournal(any_db)
    try:
        events = await store.claim("w1", limit=10, per_tenant=10)
        rows = [await _handed_over(journal, _values(e, definition_id)) for e in events]
        outcomes = [
            HandlerOutcome(OutcomeKind.COMPLETED, result={"n": n}, executions=(row,))
            for n, row in enumerate(rows)
        ]
        report = await store.settle(
            "w1", [Settlement(*pair) for pair in zip(events, outcomes, strict=True)]
        )
        # The same values written by the journal itself, for comparison.
        compare = journal.start(**_values(events[0], definition_id, trigger_event_id=None))
        await journal.commit(compare.id)
    finally:
        await store.close()

    assert report.completed == 3
    written = await _executions(any_db)
    statuses = await _statuses(any_db)
    reference = written.pop(None)
    for event, row in zip(events, rows, strict=True):
        assert statuses[event.id]["status"] == "completed"
        stored = written[event.id]
        assert stored["id"] == row["id"] and stored["created_at"] is not None
        differing = {"id", "trigger_event_id", "created_at"}
        assert {k: v for k, v in stored.items() if k not in differing} == {
            k: v for k, v in reference.items() if k not in differing
        }
    assert {e.tenant_id for e in events} == {tenant_id}
    # A None in a JSON column is JSON null in both, as SQLAlchemy writes it, not SQL NULL
    # (Python reads both as None).
    json_columns = ("error_details", "execution_result", "routing", "step_state")
    async with any_db.engine.connect() as conn:
        nulls = await conn.execute(
            sa.select(
                workflow_executions.c.trigger_event_id,
                *(workflow_executions.c[name].is_(None) for name in json_columns),
            )
        )
        by_event = {row[0]: tuple(row[1:]) for row in nulls}
    assert {by_event[e.id] for e in events} == {by_event[None]} == {(False,) * 4}


async def test_rows_of_several_shapes_go_in_one_acknowledgement(any_db: Database) -> None:
    _, definition_id, store = await _setup(any_db, 2)
    journal = ExecutionJournal(any_db)
    try:
        plain, with_error = await store.claim("w1", limit=10, per_tenant=10)
        rows = [
            await _handed_over(journal, _values(plain, definition_id)),
            await _handed_over(
                journal,
                _values(with_error, definition_id, error_details={"step": "x", "message": "m"}),
            ),
        ]
        await store.settle(
            "w1",
            [
                Settlement(event, HandlerOutcome(OutcomeKind.COMPLETED, executions=(row,)))
                for event, row in zip((plain, with_error), rows, strict=True)
            ],
        )
    finally:
        await store.close()
    written = await _executions(any_db)
    assert written[plain.id]["error_details"] is None
    assert written[with_error.id]["error_details"] == {"step": "x", "message": "m"}


async def test_a_worker_that_lost_the_event_writes_neither_ack_nor_execution(
    any_db: Database,
) -> None:
    _, definition_id, store = await _setup(any_db, 2)
    journal = ExecutionJournal(any_db)
    try:
        kept, lost = await store.claim("w1", limit=10, per_tenant=10)
        async with any_db.transaction() as conn:  # reaped and claimed by another worker
            await conn.execute(
                sa.update(event_queue).where(event_queue.c.id == lost.id).values(worker_id="w2")
            )
        await store.settle(
            "w1",
            [
                Settlement(
                    event,
                    HandlerOutcome(
                        OutcomeKind.COMPLETED,
                        executions=(await _handed_over(journal, _values(event, definition_id)),),
                    ),
                )
                for event in (kept, lost)
            ],
        )
    finally:
        await store.close()
    assert set(await _executions(any_db)) == {kept.id}
    statuses = await _statuses(any_db)
    assert statuses[kept.id]["status"] == "completed"
    assert (statuses[lost.id]["status"], statuses[lost.id]["worker_id"]) == ("processing", "w2")


async def test_a_refused_execution_costs_only_its_own_event_an_attempt(any_db: Database) -> None:
    _, definition_id, store = await _setup(any_db, 3)
    journal = ExecutionJournal(any_db)
    try:
        events = await store.claim("w1", limit=10, per_tenant=10)
        bad = events[1]
        settlements = [
            Settlement(
                event,
                HandlerOutcome(
                    OutcomeKind.COMPLETED,
                    result={"ok": True},
                    # tenant_id is NOT NULL: the database refuses this row.
                    executions=(
                        await _handed_over(
                            journal,
                            _values(event, definition_id, tenant_id=None)
                            if event is bad
                            else _values(event, definition_id),
                        ),
                    ),
                ),
            )
            for event in events
        ]
        report = await store.settle("w1", settlements)
    finally:
        await store.close()

    assert (report.completed, report.retried) == (2, 1)
    written = await _executions(any_db)
    assert set(written) == {e.id for e in events if e is not bad}
    statuses = await _statuses(any_db)
    assert statuses[bad.id]["status"] == "pending"  # retried: its workflow runs again
    (entry,) = statuses[bad.id]["error_details"]
    assert entry["error"]["type"] == "executions_not_recorded"
    assert "could not be recorded" in entry["error"]["message"]
    for event in events:
        if event is not bad:
            assert statuses[event.id]["status"] == "completed"
