"""The queue on SQLite or Postgres: one implementation, dialect-specific only where it must be.

Only the claim (row locks vs. SQLite's single writer) and the JSON append of an error
to an event's history differ; every other statement is shared Core SQL. Times come from
the injected clock so tests can move time without sleeping.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from orchestration.queue.claim import QUEUE_PLANNER_SETTINGS, claim_postgres, claim_sqlite
from orchestration.queue.outcomes import (
    REFUSED_ROW,
    OutcomeWrites,
    executions_refused,
    record_outcomes,
)
from orchestration.queue.pg_complete import CompletionStatements
from orchestration.queue.retention import RetentionPolicy, RetentionReport, apply_retention
from orchestration.queue.rows import to_queued
from orchestration.queue.store import (
    Clock,
    EventStatus,
    QueuedEvent,
    ReplayFilter,
    Settlement,
    SettleReport,
    system_clock,
)
from orchestration.queue.types import ClaimedEvent
from shared.db.database import Database
from shared.db.engine import create_engine
from shared.db.schema import event_queue
from shared.errors import NotFoundError, ValidationFailedError

__all__ = ["SqlQueueStore"]

log = logging.getLogger(__name__)
q = event_queue.c

_REPLAYABLE = (EventStatus.FAILED.value, EventStatus.COMPLETED.value)


class SqlQueueStore:
    """QueueStore on a Database (SQLite: one worker process; Postgres: any number)."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock = system_clock,
        retry_base_s: float = 2.0,
        retry_max_s: float = 600.0,
    ) -> None:
        self.db = db
        self.dialect = db.dialect
        self.clock = clock
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self._bookkeeping: AsyncEngine | None = None
        self._completions: CompletionStatements | None = None
        if not db.target.is_sqlite:
            self._completions = CompletionStatements(db.engine.dialect)
            # No pre-ping: it would double the round trips of every claim. A connection
            # that died meanwhile fails one statement, is discarded, and the worker retries.
            self._bookkeeping = create_engine(
                db.target,
                isolation_level="AUTOCOMMIT",
                pool_pre_ping=False,
                pool_size=3,
                connect_args={
                    "timeout": 10,
                    "server_settings": {"synchronous_commit": "off", **QUEUE_PLANNER_SETTINGS},
                },
            )

    async def close(self) -> None:
        """Release the worker's own connections (the Database stays open)."""
        if self._bookkeeping is not None:
            await self._bookkeeping.dispose()

    # -- the worker's side -------------------------------------------------------------

    @asynccontextmanager
    async def _worker_transaction(self) -> AsyncGenerator[AsyncConnection]:
        """Where a worker's bookkeeping (claim, ack, heartbeat, reap) runs.

        SQLite: one BEGIN IMMEDIATE transaction. Postgres: every one of these writes is a
        single statement, so each runs as its own implicit transaction on a connection of
        the worker's own engine, one round trip, committed without waiting for the WAL
        flush: if the database server crashes in that instant the write is lost and the
        event is simply delivered again (at-least-once, as always). Publishing keeps the
        default synchronous commit, because an accepted event must never be lost.
        """
        if self._bookkeeping is None:
            async with self.db.transaction() as conn:
                yield conn
            return
        async with self._bookkeeping.connect() as conn:
            yield conn

    async def claim(self, worker_id: str, *, limit: int, per_tenant: int) -> list[ClaimedEvent]:
        if limit < 1:
            return []
        claim = claim_sqlite if self.db.target.is_sqlite else claim_postgres
        async with self._worker_transaction() as conn:
            rows = await claim(
                conn,
                worker_id=worker_id,
                now=self.clock(),
                batch=limit,
                per_tenant=max(1, per_tenant),
            )
        rows.sort(key=lambda e: (e.priority, e.scheduled_for))
        return rows

    async def settle(self, worker_id: str, settlements: Sequence[Settlement]) -> SettleReport:
        """Record the outcomes; with a completed event, the executions it ran. An execution
        row the database refuses (its workflow was deleted meanwhile, say) must not hold up
        the batch forever: each outcome is then recorded alone, and one whose executions
        are still refused is recorded as a failed attempt (retried, its workflows run again)."""
        try:
            return await self._settle(worker_id, settlements)
        except REFUSED_ROW as exc:
            if not any(item.outcome.executions for item in settlements):
                raise
            log.warning("recording %d outcome(s) failed (%s); one at a time", len(settlements), exc)
        report = SettleReport()
        for item in settlements:
            try:
                report = report.plus(await self._settle(worker_id, [item]))
            except REFUSED_ROW as exc:
                if not item.outcome.executions:
                    raise
                refused = Settlement(item.event, executions_refused(item.outcome, exc))
                report = report.plus(await self._settle(worker_id, [refused]))
        return report

    async def _settle(self, worker_id: str, settlements: Sequence[Settlement]) -> SettleReport:
        now = self.clock()
        writes = OutcomeWrites.sort(
            settlements,
            worker_id=worker_id,
            now=now,
            retry_base_s=self.retry_base_s,
            retry_max_s=self.retry_max_s,
        )
        async with self._worker_transaction() as conn:
            await record_outcomes(
                conn,
                writes,
                worker_id=worker_id,
                now=now,
                sqlite=self.db.target.is_sqlite,
                completions=self._completions,
            )
        return writes.report()

    async def heartbeat(self, worker_id: str) -> int:
        return len(await self.renew(worker_id))

    async def renew(self, worker_id: str) -> set[tuple[uuid.UUID, int]]:
        async with self._worker_transaction() as conn:
            held = (q.worker_id == worker_id, q.status == EventStatus.PROCESSING.value)
            result = await conn.execute(
                sa.update(event_queue)
                .where(_not_locked(*held), *held)
                .values(heartbeat_at=self.clock())
                .returning(q.id, q.attempts)
            )
            return {(row.id, row.attempts) for row in result}

    async def release(self, worker_id: str, ids: Sequence[uuid.UUID]) -> int:
        if not ids:
            return 0
        async with self._worker_transaction() as conn:
            result = await conn.execute(
                sa.update(event_queue)
                .where(
                    q.id.in_(list(ids)),
                    q.worker_id == worker_id,
                    q.status == EventStatus.PROCESSING.value,
                )
                .values(
                    status=EventStatus.PENDING.value,
                    attempts=sa.func.max(q.attempts - 1, 0)
                    if self.db.target.is_sqlite
                    else sa.func.greatest(q.attempts - 1, 0),
                    worker_id=None,
                    heartbeat_at=None,
                    updated_at=self.clock(),
                )
            )
        return result.rowcount

    def _json_object(self, **items: Any) -> sa.ColumnElement[Any]:
        args: list[Any] = []
        for key, value in items.items():
            args.extend([sa.literal(key), value])
        fn = sa.func.json_object if self.db.target.is_sqlite else sa.func.jsonb_build_object
        return fn(*args)

    async def reap(self, visibility_timeout: timedelta) -> int:
        now = self.clock()
        entry = self._json_object(
            attempt=q.attempts,
            at=sa.literal(now.isoformat()),
            worker=q.worker_id,
            outcome=sa.literal("lease_expired"),
            error=self._json_object(
                type=sa.literal("lease_expired"),
                message=sa.literal(
                    "the worker holding this event stopped heartbeating (crashed or hung)"
                ),
            ),
        )
        if self.db.target.is_sqlite:
            history = sa.func.json_insert(sa.func.coalesce(q.error_details, "[]"), "$[#]", entry)
        else:
            empty = sa.cast(sa.literal("[]"), postgresql.JSONB)
            history = sa.func.coalesce(q.error_details, empty).op("||")(
                sa.func.jsonb_build_array(entry)
            )
        out_of_attempts = q.attempts >= q.max_retries + 1
        stale = (
            q.status == EventStatus.PROCESSING.value,
            q.heartbeat_at < now - visibility_timeout,
        )
        async with self._worker_transaction() as conn:
            result = await conn.execute(
                sa.update(event_queue)
                .where(_not_locked(*stale), *stale)
                .values(
                    status=sa.case(
                        (out_of_attempts, EventStatus.FAILED.value),
                        else_=EventStatus.PENDING.value,
                    ),
                    error_details=history,
                    worker_id=None,
                    heartbeat_at=None,
                    scheduled_for=now,
                    updated_at=now,
                )
            )
        if result.rowcount:
            log.warning(
                "reaped %d event(s) from workers that stopped heartbeating", result.rowcount
            )
        return result.rowcount

    # -- operators' side ----------------------------------------------------------------

    async def replay(
        self, *, ids: Sequence[uuid.UUID] = (), where: ReplayFilter | None = None
    ) -> int:
        if not ids and where is None:
            raise ValidationFailedError("name the events to replay: ids, or a filter")
        conditions: list[sa.ColumnElement[bool]] = []
        if ids:
            conditions += [q.id.in_(list(ids)), q.status.in_(_REPLAYABLE)]
        if where is not None:
            if where.status.value not in _REPLAYABLE:
                raise ValidationFailedError(
                    f"only failed or completed events can be replayed, not {where.status.value}"
                )
            conditions.append(q.status == where.status.value)
            if where.event_type:
                conditions.append(q.event_type == where.event_type)
            if where.tenant_id:
                conditions.append(q.tenant_id == where.tenant_id)
            if where.since:
                conditions.append(q.created_at >= where.since)
            if where.until:
                conditions.append(q.created_at < where.until)
        now = self.clock()
        async with self.db.transaction() as conn:
            result = await conn.execute(
                sa.update(event_queue)
                .where(*conditions)
                .values(
                    status=EventStatus.PENDING.value,
                    attempts=0,
                    scheduled_for=now,
                    worker_id=None,
                    heartbeat_at=None,
                    processing_result=None,
                    updated_at=now,
                )
            )
            if ids and result.rowcount < len(set(ids)):
                await self._explain_unreplayable(conn, ids)
        return result.rowcount

    async def _explain_unreplayable(self, conn: AsyncConnection, ids: Sequence[uuid.UUID]) -> None:
        rows = await conn.execute(sa.select(q.id, q.status).where(q.id.in_(list(ids))))
        found = {row.id: row.status for row in rows}
        for wanted in ids:
            status = found.get(wanted)
            if status is None:
                raise NotFoundError(
                    f"event {wanted} is not in the queue; `switchboard events list` shows ids"
                )
            if status not in _REPLAYABLE and status != EventStatus.PENDING.value:
                raise ValidationFailedError(
                    f"event {wanted} is {status}; only failed or completed events can be replayed"
                )

    async def prune(self, older_than: timedelta, *, batch: int = 5000) -> int:
        cutoff = self.clock() - older_than
        total = 0
        while True:  # small batches keep each transaction (and its locks) short
            async with self.db.transaction() as conn:
                doomed = (
                    sa.select(q.id)
                    .where(q.status == EventStatus.COMPLETED.value, q.updated_at < cutoff)
                    .limit(batch)
                    .scalar_subquery()
                )
                result = await conn.execute(sa.delete(event_queue).where(q.id.in_(doomed)))
            total += result.rowcount
            if result.rowcount < batch:
                return total

    async def retain(self, policy: RetentionPolicy) -> RetentionReport:
        return await apply_retention(self.db, policy, now=self.clock())

    async def list_events(
        self,
        *,
        tenant_id: uuid.UUID | None = None,
        status: str | None = None,
        event_type: str | None = None,
        limit: int = 50,
    ) -> list[QueuedEvent]:
        query = sa.select(event_queue).order_by(q.created_at.desc()).limit(limit)
        if tenant_id is not None:
            query = query.where(q.tenant_id == tenant_id)
        if status is not None:
            query = query.where(q.status == status)
        if event_type is not None:
            query = query.where(q.event_type == event_type)
        async with self.db.engine.connect() as conn:
            return [to_queued(r) for r in (await conn.execute(query)).mappings()]

    async def get(self, queue_id: uuid.UUID) -> QueuedEvent | None:
        async with self.db.engine.connect() as conn:
            row = (
                (await conn.execute(sa.select(event_queue).where(q.id == queue_id)))
                .mappings()
                .first()
            )
        return to_queued(row) if row is not None else None

    async def counts(self, tenant_id: uuid.UUID | None = None) -> dict[str, int]:
        query = sa.select(q.status, sa.func.count()).group_by(q.status)
        if tenant_id is not None:
            query = query.where(q.tenant_id == tenant_id)
        async with self.db.engine.connect() as conn:
            return {str(status): int(n) for status, n in (await conn.execute(query)).all()}

    async def next_due(self) -> datetime | None:
        async with self.db.engine.connect() as conn:
            return (
                await conn.execute(
                    sa.select(sa.func.min(q.scheduled_for)).where(
                        q.status == EventStatus.PENDING.value
                    )
                )
            ).scalar()


def _not_locked(*conditions: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """The rows meeting `conditions` that no other transaction holds (Postgres; SQLite has
    one writer). The heartbeat and the reaper update many rows of the queue at once, and the
    settler's acknowledgement (another connection of the same worker) some of the same:
    each taking its rows in its own order, two of them could wait on each other (Postgres
    broke such a deadlock by failing one). A row being acknowledged needs no heartbeat, and
    is not a dead worker's: both pass it by instead of waiting for it."""
    free = sa.select(q.id).where(*conditions).with_for_update(skip_locked=True)
    return q.id.in_(free.scalar_subquery())
