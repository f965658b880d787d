"""The audit log: who did what, in which tenant, with what outcome. Append-only.

Arguments are stored as a digest, never their values: a digest proves what was sent
(re-hash the arguments to check) without putting customer data or secrets in the log.

Two ways in:

- `record_audit(db_or_conn, entry)` writes one row now; given a connection, inside the
  caller's own transaction (so the row commits or rolls back with the change it describes).
- `AuditWriter` buffers rows and writes them in batches off the request path: a read-only
  tool call must not pay for a write transaction of its own. `await writer.flush()` writes
  every row recorded so far (tests call it before they read the log; shutdown calls it).
  A batch skips SQLAlchemy's per-row work (`shared.audit_rows`): on SQLite it is one
  transaction on a worker thread with the synchronous driver (through the async engine each
  statement was a hop to aiosqlite's thread and back), on Postgres one executemany on a
  connection leased from the pool. What an entry holds and how it is stored is in
  `shared.audit_rows` (re-exported here).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import AsyncGenerator, Sequence
from contextlib import asynccontextmanager

import anyio
import sqlalchemy as sa
from pydantic import Field
from pydantic_settings import BaseSettings
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.audit_rows import (
    REFUSED,
    AuditEntry,
    PostgresAuditRows,
    SqliteAuditRows,
    argument_digest,
    audit_row,
)
from shared.config import section_config
from shared.db.database import Database
from shared.db.schema import audit_log

__all__ = [
    "AuditConfig",
    "AuditEntry",
    "AuditWriter",
    "PostgresAuditRows",
    "SqliteAuditRows",
    "argument_digest",
    "record_audit",
    "record_audits",
]

log = logging.getLogger(__name__)


async def record_audits(where: Database | AsyncConnection, entries: Sequence[AuditEntry]) -> None:
    """Append rows in one statement; given a connection, inside the caller's transaction."""
    if not entries:
        return
    rows = [audit_row(entry) for entry in entries]
    if isinstance(where, AsyncConnection):
        await where.execute(sa.insert(audit_log), rows)
        return
    async with where.transaction() as conn:
        await conn.execute(sa.insert(audit_log), rows)


async def record_audit(where: Database | AsyncConnection, entry: AuditEntry) -> None:
    """Append one row now; given a connection, inside the caller's transaction."""
    await record_audits(where, [entry])


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
      buffer every `flush_interval_s`, or sooner once half of `max_pending` is waiting,
      as one batch: rows that arrive while it writes wait for the next tick.
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
        self._postgres: PostgresAuditRows | None = None  # while running, on Postgres

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
        elif not self.database.target.is_sqlite:
            self._postgres = PostgresAuditRows(self.database)
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
                    await self._write_pending(drain=True)
            finally:
                self._loop = None
                self._postgres = None
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

    async def _write_pending(self, *, drain: bool = False) -> None:
        """Write the rows buffered when the write lock is taken (every row recorded before
        the call: earlier ones are written or still ahead of them). Rows recorded while
        this writes wait for the next tick: under a steady stream of calls, writing until
        the buffer was empty wrote a batch of the one or two rows that arrived during each
        write, one after another without a pause (measured on Postgres through SQLAlchemy:
        0.8 ms of CPU per tool call instead of one batch per tick). `drain`: until empty
        (the writer stops; nothing will write what is left)."""
        async with self._write_lock:
            due = math.inf if drain else len(self._pending)
            while self._pending and due > 0:
                size = int(min(500, len(self._pending), due))
                batch = [self._pending.popleft() for _ in range(size)]
                due -= size
                try:
                    await self._write_batch(batch)
                except REFUSED:
                    await self._write_one_by_one(batch)
                except BaseException:
                    self._pending.extendleft(reversed(batch))
                    raise

    async def _write_batch(self, batch: list[AuditEntry]) -> None:
        if self._sqlite is not None:
            await self._sqlite.write(batch)
        elif self._postgres is not None:
            await self._postgres.write(batch)
        else:
            await record_audits(self.database, batch)

    async def _write_one_by_one(self, batch: list[AuditEntry]) -> None:
        """A batch the store refused as a whole: write its rows apart, so one row that can
        never be written (its tenant was deleted meanwhile, taking its log with it) does not
        hold back the rest. That row is reported, not kept: retrying cannot succeed."""
        for index, entry in enumerate(batch):
            try:
                await record_audit(self.database, entry)
            except REFUSED:
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
