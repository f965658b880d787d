"""The audit log: who did what, in which tenant, with what outcome. Append-only.

Arguments are stored as a digest, never their values: a digest proves what was sent
(re-hash the arguments to check) without putting customer data or secrets in the log.

Two ways in:

- `record_audit(db_or_conn, entry)` writes one row now; given a connection, inside the
  caller's own transaction (so the row commits or rolls back with the change it describes).
- `AuditWriter` buffers rows and writes them in batches off the request path: a read-only
  tool call must not pay for a write transaction of its own. `await writer.flush()` writes
  every row recorded so far (tests call it before they read the log; shutdown calls it).
  On SQLite a batch is one transaction on a worker thread with the synchronous driver
  (`SqliteAuditRows`): through the async engine each of its statements is a hop to
  aiosqlite's thread and back, about 0.7 ms of the event loop's time per batch.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import pydantic_core
import sqlalchemy as sa
from pydantic import Field
from pydantic_settings import BaseSettings
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.config import section_config
from shared.db.database import Database
from shared.db.engine import sqlite_thread_engine
from shared.db.schema import audit_log
from shared.db.types import utcnow

__all__ = [
    "AuditConfig",
    "AuditEntry",
    "AuditWriter",
    "SqliteAuditRows",
    "argument_digest",
    "record_audit",
    "record_audits",
]

log = logging.getLogger(__name__)


def argument_digest(arguments: Any) -> str:
    canonical = json.dumps(arguments, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    tenant_id: uuid.UUID | None
    actor: str
    action: str
    outcome: str  # ok | error | denied
    actor_role: str | None = None
    target: str | None = None
    arguments: Any = None
    duration_ms: int | None = None
    details: dict[str, Any] | None = None
    # When it happened, not when a buffered row reached the table: the log stays in call order.
    occurred_at: datetime = field(default_factory=utcnow)


def _row(entry: AuditEntry) -> dict[str, Any]:
    return {
        "tenant_id": entry.tenant_id,
        "occurred_at": entry.occurred_at,
        "actor": entry.actor,
        "actor_role": entry.actor_role,
        "action": entry.action,
        "target": entry.target,
        "argument_digest": None if entry.arguments is None else argument_digest(entry.arguments),
        "outcome": entry.outcome,
        "duration_ms": entry.duration_ms,
        "details": entry.details,
    }


async def record_audits(where: Database | AsyncConnection, entries: Sequence[AuditEntry]) -> None:
    """Append rows in one statement; given a connection, inside the caller's transaction."""
    if not entries:
        return
    rows = [_row(entry) for entry in entries]
    if isinstance(where, AsyncConnection):
        await where.execute(sa.insert(audit_log), rows)
        return
    async with where.transaction() as conn:
        await conn.execute(sa.insert(audit_log), rows)


async def record_audit(where: Database | AsyncConnection, entry: AuditEntry) -> None:
    """Append one row now; given a connection, inside the caller's transaction."""
    await record_audits(where, [entry])


class SqliteAuditRows:
    """Audit batches for a SQLite store, each one transaction on a worker thread.

    Same file, same table definition (so the same stored formats), the same connection
    settings and write lock (BEGIN IMMEDIATE) as `shared.db.engine` gives the async engine,
    and the same JSON serializer for `details`. One hop per batch; sqlite3 releases the GIL
    while SQLite works, so the event loop keeps serving meanwhile."""

    def __init__(self, path: Path) -> None:
        self.engine = sqlite_thread_engine(path, json_serializer=_to_json)

    def _insert(self, entries: Sequence[AuditEntry]) -> None:
        rows = [_row(entry) for entry in entries]
        with self.engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            conn.execute(sa.insert(audit_log), rows)

    async def write(self, entries: Sequence[AuditEntry]) -> None:
        """Append the rows in one transaction; returns after COMMIT (never abandoned
        half-way: a cancelled caller waits for the thread)."""
        if entries:
            await anyio.to_thread.run_sync(self._insert, entries)

    def close(self) -> None:
        self.engine.dispose()


def _to_json(value: Any) -> str:
    return pydantic_core.to_json(value).decode()  # as shared.db.engine's engines do


class AuditConfig(BaseSettings):
    """How the buffered writer batches. Read from `SWITCHBOARD_AUDIT_*` variables."""

    model_config = section_config("AUDIT")

    flush_interval_s: float = Field(
        default=0.2,
        gt=0,
        le=60,
        description="Longest time a buffered audit row waits before it is written",
    )
    max_pending: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Buffered rows at most; past this a tool call writes the backlog itself",
    )


class AuditWriter:
    """Audit rows written in batches by a background task, never dropped.

    Until `running()` is entered (and after it exits) `record` writes synchronously, so a
    writer nobody started (a test's state, a one-shot command) behaves like `record_audit`.
    While running:

    - `record` appends to a buffer and returns at once; the background task writes the
      buffer every `flush_interval_s`, or sooner once half of `max_pending` is waiting.
    - A full buffer (the store is slow or down) is back-pressure: the call that finds it
      full writes the backlog itself, and fails if that write fails. Rows are never dropped
      for lack of room; a failed batch goes back to the front of the buffer.
    - `flush()` writes every row recorded before it was called, from any task (or thread:
      it hops onto the writer's event loop). Exiting `running()` flushes.
    """

    def __init__(self, database: Database, config: AuditConfig | None = None) -> None:
        self.database = database
        self.config = config or AuditConfig()
        self._pending: deque[AuditEntry] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None  # set while running
        self._write_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._sqlite: SqliteAuditRows | None = None  # while running, on SQLite

    @property
    def is_running(self) -> bool:
        return self._loop is not None

    @property
    def pending(self) -> int:
        """Rows recorded but not yet written."""
        return len(self._pending)

    def buffer(self, entry: AuditEntry) -> bool:
        """Buffer the row if that is all it takes (running, room left below the back-pressure
        mark): no await, so a caller need not shield it from cancellation. False: nothing
        was recorded, call `record`."""
        if self._loop is None or len(self._pending) + 1 >= self.config.max_pending:
            return False
        self._pending.append(entry)
        if len(self._pending) * 2 >= self.config.max_pending:
            self._wake.set()
        return True

    async def record(self, entry: AuditEntry) -> None:
        if self.buffer(entry):
            return
        if self._loop is None:
            await record_audit(self.database, entry)
            return
        self._pending.append(entry)
        await self._write_pending()  # back-pressure: this caller pays for the backlog

    async def flush(self) -> None:
        """Write every row recorded so far. Raises if the store refuses them (they stay
        buffered, to be written by a later flush)."""
        loop = self._loop
        if loop is None or loop is asyncio.get_running_loop():
            await self._write_pending()
            return
        # Another thread's loop (a test serving the app in a thread): the engine's
        # connections belong to the writer's loop, so the write must happen there.
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._write_pending(), loop))

    @asynccontextmanager
    async def running(self) -> AsyncGenerator[AuditWriter]:
        """Buffer rows while the block runs; write the rest when it ends."""
        if self._loop is not None:
            raise RuntimeError("this AuditWriter is already running")
        # Fresh primitives: a writer may be started again, on another event loop.
        self._write_lock, self._wake = asyncio.Lock(), asyncio.Event()
        self._loop = asyncio.get_running_loop()
        path = self.database.target.sqlite_path
        if self.database.target.is_sqlite and path is not None:
            self._sqlite = SqliteAuditRows(path)
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._flush_periodically)
                try:
                    yield self
                finally:
                    tasks.cancel_scope.cancel()
        finally:
            try:
                with anyio.CancelScope(shield=True):
                    await self._write_pending()
            finally:
                self._loop = None
                if self._sqlite is not None:
                    self._sqlite.close()
                    self._sqlite = None

    async def _flush_periodically(self) -> None:
        while True:
            with anyio.move_on_after(self.config.flush_interval_s):
                await self._wake.wait()
            self._wake.clear()
            try:
                with anyio.CancelScope(shield=True):  # a batch is never abandoned mid-write
                    await self._write_pending()
            except Exception as exc:  # the store is down: keep the rows, try again next tick
                log.warning(
                    "audit log write failed (%s rows kept, retried in %.1f s): %s",
                    len(self._pending),
                    self.config.flush_interval_s,
                    type(exc).__name__,
                )

    async def _write_pending(self) -> None:
        async with self._write_lock:
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(500, len(self._pending)))]
                try:
                    await self._write_batch(batch)
                except IntegrityError:
                    await self._write_one_by_one(batch)
                except BaseException:
                    self._pending.extendleft(reversed(batch))
                    raise

    async def _write_batch(self, batch: list[AuditEntry]) -> None:
        if self._sqlite is not None:
            await self._sqlite.write(batch)
        else:
            await record_audits(self.database, batch)

    async def _write_one_by_one(self, batch: list[AuditEntry]) -> None:
        """A batch the store refused as a whole: write its rows apart, so one row that can
        never be written (its tenant was deleted meanwhile, taking its log with it) does not
        hold back the rest. That row is reported, not kept: retrying cannot succeed."""
        for index, entry in enumerate(batch):
            try:
                await record_audit(self.database, entry)
            except IntegrityError:
                log.error(
                    "audit row refused by the store and not written: action=%s actor=%s "
                    "outcome=%s tenant=%s",
                    entry.action,
                    entry.actor,
                    entry.outcome,
                    entry.tenant_id,
                )
            except BaseException:
                self._pending.extendleft(reversed(batch[index:]))
                raise
