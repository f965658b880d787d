"""Retention: finished events and executions leave the hot tables on a schedule.

Completed events older than the retention period, and the finished (completed or failed)
workflow executions whose triggering event has left the queue, are either archived (moved,
in the same transaction, to `event_archive` / `workflow_execution_archive`, the whole row
kept as JSON in `record`) or deleted. Archived rows are deleted in turn after their own
retention period. Dead-lettered (`failed`) events stay in the queue until an operator
replays them, and a running, waiting or retrying execution is never touched, so a replay
or a durable resume always finds its checkpoints.

Work is done in small batches, each its own transaction, so no lock is held for long.
On Postgres the batch is locked with SKIP LOCKED: several workers running retention at
once take disjoint rows. Deduplication on (tenant, eventId) covers the events still in
the queue, so it holds for the retention period.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, Literal

import anyio
import anyio.lowlevel
import sqlalchemy as sa

from shared.db.database import Database
from shared.db.orchestration_tables import (
    event_archive,
    event_queue,
    workflow_execution_archive,
    workflow_executions,
)

__all__ = ["RetentionPolicy", "RetentionReport", "apply_retention"]

RetentionMode = Literal["archive", "delete"]
_FINISHED_EXECUTIONS = ("completed", "failed")


@dataclass(frozen=True)
class RetentionPolicy:
    older_than: timedelta  # finished events/executions older than this leave the hot tables
    mode: RetentionMode = "archive"
    archive_older_than: timedelta | None = None  # archived rows older than this: deleted


@dataclass(frozen=True)
class RetentionReport:
    events: int = 0  # left event_queue (archived or deleted, per the mode)
    executions: int = 0  # left workflow_executions
    archived_deleted: int = 0  # rows deleted from the archive tables

    def __add__(self, other: RetentionReport) -> RetentionReport:
        return RetentionReport(
            self.events + other.events,
            self.executions + other.executions,
            self.archived_deleted + other.archived_deleted,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "events": self.events,
            "executions": self.executions,
            "archived_deleted": self.archived_deleted,
        }


def _json_safe(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _record(row: sa.RowMapping) -> dict[str, Any]:
    return {key: _json_safe(value) for key, value in row.items()}


def _event_archive_row(row: sa.RowMapping) -> dict[str, Any]:
    return {
        "id": row["id"],
        "tenant_id": row["tenant_id"],
        "event_id": row["event_id"],
        "event_type": row["event_type"],
        "status": row["status"],
        "created_at": row["created_at"],
        "finished_at": row["updated_at"],
        "record": _record(row),
    }


def _execution_archive_row(row: sa.RowMapping) -> dict[str, Any]:
    return {
        "id": row["id"],
        "tenant_id": row["tenant_id"],
        "workflow_definition_id": row["workflow_definition_id"],
        "trigger_event_id": row["trigger_event_id"],
        "status": row["status"] or "completed",
        "started_at": row["started_at"],
        "completed_at": row["completed_at"],
        "record": _record(row),
    }


def _old_events(cutoff: datetime) -> sa.ColumnElement[bool]:
    q = event_queue.c
    return sa.and_(q.status == "completed", q.updated_at < cutoff)


def _old_executions(cutoff: datetime) -> sa.ColumnElement[bool]:
    x = workflow_executions.c
    finished_at = sa.func.coalesce(x.completed_at, x.started_at, x.created_at)
    event_still_queued = (
        sa.select(event_queue.c.id).where(event_queue.c.id == x.trigger_event_id).exists()
    )
    return sa.and_(
        x.status.in_(_FINISHED_EXECUTIONS), finished_at < cutoff, sa.not_(event_still_queued)
    )


async def _move_batch(
    db: Database,
    table: sa.Table,
    where: sa.ColumnElement[bool],
    archive: tuple[sa.Table, Callable[[sa.RowMapping], dict[str, Any]]] | None,
    batch: int,
    now: datetime,
) -> int:
    """Archive (or delete) up to `batch` rows of `table` matching `where`; how many."""
    async with db.transaction() as conn:
        pick = sa.select(table).where(where).limit(batch)
        if not db.target.is_sqlite:
            pick = pick.with_for_update(skip_locked=True)
        rows = list((await conn.execute(pick)).mappings())
        if not rows:
            return 0
        if archive is not None:
            archive_table, to_archive_row = archive
            archived = [{**to_archive_row(r), "archived_at": now} for r in rows]
            await conn.execute(sa.insert(archive_table), archived)
        await conn.execute(sa.delete(table).where(table.c.id.in_([r["id"] for r in rows])))
    return len(rows)


async def _delete_batch(db: Database, table: sa.Table, cutoff: datetime, batch: int) -> int:
    async with db.transaction() as conn:
        doomed = sa.select(table.c.id).where(table.c.archived_at < cutoff).limit(batch)
        doomed_ids = doomed.scalar_subquery()
        result = await conn.execute(sa.delete(table).where(table.c.id.in_(doomed_ids)))
    return result.rowcount


async def _drain(step: Callable[[], Awaitable[int]], batch: int) -> int:
    """Run `step()` (one batch) until a batch comes back short; the total."""
    total = 0
    while True:
        done = await step()
        total += done
        if done < batch:
            return total
        await anyio.lowlevel.checkpoint()  # let the worker's other tasks run between batches


async def apply_retention(
    db: Database, policy: RetentionPolicy, *, now: datetime, batch: int = 1000
) -> RetentionReport:
    """Apply `policy` as of `now`: events first, then the executions they leave behind,
    then the archive's own expiry. Returns how many rows each step moved or deleted."""
    cutoff = now - policy.older_than
    archiving = policy.mode == "archive"
    events = await _drain(
        lambda: _move_batch(
            db,
            event_queue,
            _old_events(cutoff),
            (event_archive, _event_archive_row) if archiving else None,
            batch,
            now,
        ),
        batch,
    )
    executions = await _drain(
        lambda: _move_batch(
            db,
            workflow_executions,
            _old_executions(cutoff),
            (workflow_execution_archive, _execution_archive_row) if archiving else None,
            batch,
            now,
        ),
        batch,
    )
    expired = 0
    if policy.archive_older_than is not None:
        archive_cutoff = now - policy.archive_older_than
        for table in (event_archive, workflow_execution_archive):
            expired += await _drain(partial(_delete_batch, db, table, archive_cutoff, batch), batch)
    return RetentionReport(events=events, executions=executions, archived_deleted=expired)
