"""Recording handlers' outcomes: the statements of one settle, on SQLite or Postgres.

A settle sorts the outcomes into three statements, each matched on the event's lease
(processing, this worker, this attempt: an event reaped and claimed again meanwhile is left
to its new holder): completed (with its result, and on Postgres its workflow executions,
queue/pg_complete.py), back to pending at its retry time, or dead-lettered; the last two
append the attempt's error to the event's history.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg  # pyright: ignore[reportMissingTypeStubs]
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from orchestration.queue.backoff import retry_delay
from orchestration.queue.claim import asyncpg_of
from orchestration.queue.pg_complete import CompletionStatements, complete_postgres
from orchestration.queue.store import EventStatus, Settlement, SettleReport
from orchestration.queue.types import HandlerOutcome, OutcomeKind
from shared.db.schema import event_queue, workflow_executions

__all__ = ["REFUSED_ROW", "OutcomeWrites", "executions_refused", "record_outcomes"]

q = event_queue.c

# What a row of values can make the database (or the bind processors converting them)
# refuse; a lost connection is not among them: the settler just tries the batch again.
REFUSED_ROW: tuple[type[Exception], ...] = (
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.DataError,
    IntegrityError,
    DataError,
    TypeError,
    ValueError,
)


@dataclass
class OutcomeWrites:
    """One settle's outcomes as the parameters of its statements."""

    done: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    again: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    dead: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])
    executions: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])

    @classmethod
    def sort(
        cls,
        settlements: Sequence[Settlement],
        *,
        worker_id: str,
        now: datetime,
        retry_base_s: float,
        retry_max_s: float,
    ) -> OutcomeWrites:
        writes = cls()
        for item in settlements:
            event, outcome = item.event, item.outcome
            lease = {"b_id": event.id, "b_worker": worker_id, "b_attempts": event.attempts}
            if outcome.kind is OutcomeKind.COMPLETED:
                writes.done.append({**lease, "b_result": outcome.result})
                writes.executions += outcome.executions  # written with the acks
                continue
            entry = {
                "attempt": event.attempts,
                "at": now.isoformat(),
                "worker": worker_id,
                "outcome": outcome.kind.value,
                "error": outcome.error or {"message": "no error details given"},
            }
            params = {**lease, "b_entry": json.dumps(entry, default=str)}
            if outcome.kind is OutcomeKind.RETRY and not event.is_last_attempt:
                retry_at = outcome.retry_at or now + retry_delay(
                    event.attempts, base_s=retry_base_s, max_s=retry_max_s
                )
                writes.again.append({**params, "b_at": retry_at})
            else:
                writes.dead.append(params)
        return writes

    def report(self) -> SettleReport:
        return SettleReport(
            completed=len(self.done), retried=len(self.again), dead_lettered=len(self.dead)
        )


async def record_outcomes(
    conn: AsyncConnection,
    writes: OutcomeWrites,
    *,
    worker_id: str,
    now: datetime,
    sqlite: bool,
    completions: CompletionStatements | None,
) -> None:
    """Run the settle's statements on `conn` (SQLite: inside its write transaction)."""
    base = {"worker_id": None, "heartbeat_at": None, "updated_at": now}
    if writes.done and not sqlite:  # one statement for the batch
        await complete_postgres(
            await asyncpg_of(conn),
            worker_id=worker_id,
            now=now,
            done=[(p["b_id"], p["b_attempts"], p["b_result"]) for p in writes.done],
            executions=writes.executions,
            statements=completions,
        )
    elif writes.done:
        if writes.executions:  # before the acks, which end the leases it checks
            await _insert_held_executions(conn, worker_id, writes.done, writes.executions)
        result_type = event_queue.c.processing_result.type
        await conn.execute(
            sa.update(event_queue)
            .where(_lease())
            .values(
                status=EventStatus.COMPLETED.value,
                processing_result=sa.bindparam("b_result", type_=result_type),
                **base,
            ),
            writes.done,
        )
    if writes.again:
        await conn.execute(
            sa.update(event_queue)
            .where(_lease())
            .values(
                status=EventStatus.PENDING.value,
                scheduled_for=sa.bindparam("b_at", type_=q.scheduled_for.type),
                error_details=_append_error(sqlite),
                **base,
            ),
            writes.again,
        )
    if writes.dead:
        await conn.execute(
            sa.update(event_queue)
            .where(_lease())
            .values(status=EventStatus.FAILED.value, error_details=_append_error(sqlite), **base),
            writes.dead,
        )


def executions_refused(outcome: HandlerOutcome, exc: Exception) -> HandlerOutcome:
    """A completed outcome whose executions could not be written, as a failed attempt."""
    reason = str(exc).splitlines()[0][:500] if str(exc) else type(exc).__name__
    return HandlerOutcome(
        OutcomeKind.RETRY,
        result=outcome.result,
        error={
            "type": "executions_not_recorded",
            "message": f"the workflow executions of this event could not be recorded "
            f"({type(exc).__name__}: {reason}); the attempt counts as failed",
        },
    )


def _lease() -> sa.ColumnElement[bool]:
    return sa.and_(
        q.id == sa.bindparam("b_id"),
        q.status == EventStatus.PROCESSING.value,
        q.worker_id == sa.bindparam("b_worker"),
        q.attempts == sa.bindparam("b_attempts"),
    )


def _append_error(sqlite: bool) -> sa.ColumnElement[Any]:
    """error_details := error_details + [:entry] (entry bound as JSON text)."""
    entry = sa.bindparam("b_entry", type_=sa.Text())
    if sqlite:
        return sa.func.json_insert(
            sa.func.coalesce(q.error_details, "[]"), "$[#]", sa.func.json(entry)
        )
    empty = sa.cast(sa.literal("[]"), postgresql.JSONB)
    return sa.func.coalesce(q.error_details, empty).op("||")(
        sa.func.jsonb_build_array(sa.cast(entry, postgresql.JSONB))
    )


async def _insert_held_executions(
    conn: AsyncConnection,
    worker_id: str,
    done: Sequence[dict[str, Any]],
    executions: Sequence[dict[str, Any]],
) -> None:
    """SQLite: insert the executions of the events this worker still holds (the same
    transaction then acknowledges them), as the Postgres statement does."""
    attempts = {p["b_id"]: p["b_attempts"] for p in done}
    rows = await conn.execute(
        sa.select(q.id, q.attempts).where(
            q.id.in_(list(attempts)),
            q.status == EventStatus.PROCESSING.value,
            q.worker_id == worker_id,
        )
    )
    held = {row.id for row in rows if attempts.get(row.id) == row.attempts}
    by_shape: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row in executions:
        if row["trigger_event_id"] in held:
            by_shape.setdefault(frozenset(row), []).append(row)
    for same_columns in by_shape.values():  # an executemany needs the same keys in each
        await conn.execute(sa.insert(workflow_executions), same_columns)
