"""Small SQLite reads run on the event loop itself, within a time budget.

Through aiosqlite every statement is a hand-off to its thread and back (with the GIL, each
costs more than the point lookups of an account read), and the pool adds a few more per
call. A bounded read (`get_account`'s lookups, a LIMITed page with its capped count) takes
tens of microseconds in SQLite itself, so it runs synchronously on the loop, on a read-only
connection of this process (WAL lets it read beside the writer). Two things could make it
block the loop for long, and both move it to a worker thread instead:

- a read that runs past `INLINE_BUDGET_SECONDS` (a search whose filters no index narrows)
  is interrupted and run again in a thread, where it may take as long as it needs;
- a locked file (busy) is not waited for on the loop (busy timeout 0); the thread waits.

So the loop is blocked for at most about the budget per call, and what a read returns does
not depend on where it ran. `run` hands a read a SQLAlchemy connection; `run_raw` the
sqlite3 connection itself, inside one read transaction, for statements compiled once
(`raw_statements`: the hot reads, where SQLAlchemy's per-statement work cost more than
SQLite's). Writes, aggregations and everything else keep using the Database's async engine.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry

from shared.db.database import Database
from shared.db.engine import SQLITE_BUSY_TIMEOUT_MS, begin_sqlite

__all__ = ["INLINE_BUDGET_SECONDS", "SqliteReader", "sqlite_reader"]

_T = TypeVar("_T")

# How long a read may hold the event loop before it is moved to a thread. A handed-off read
# starts again, so the budget is spent for nothing: at 2 ms, 4 % of the usual search
# (`bench/crm_tools.py`, 100k accounts) ran past it whenever the machine was slow and were
# then run twice, which was most of that tool's p95 (0.6-0.9 ms more). 5 ms hands off
# none of the bounded reads, and a read that does block the loop that long costs no more
# than the rest of the tool call's own synchronous work (validation, serialization).
INLINE_BUDGET_SECONDS = 0.005
# SQLite calls the budget check every this many virtual-machine steps: about 0.3 ms of its
# work. Each check takes the GIL back from other threads, so not much more often.
_CHECK_EVERY_STEPS = 10_000
# Why SQLite gave up: the budget ran out (interrupt) or another connection holds a lock.
_HANDED_OFF = {sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}


class SqliteReader:
    """Runs `read(connection)` (synchronous SQLAlchemy, read-only) for one SQLite file."""

    def __init__(self, url: sa.URL) -> None:
        self._budget = threading.local()  # `deadline` of the read on this thread's loop
        self.inline_engine = sa.create_engine(url)
        self.thread_engine = sa.create_engine(url)
        event.listen(self.inline_engine, "connect", self._configure_inline)
        event.listen(self.thread_engine, "connect", _configure_thread)
        for engine in (self.inline_engine, self.thread_engine):
            event.listen(engine, "begin", begin_sqlite)  # one snapshot for a read's statements
        self.handed_off = 0  # reads that ran in a thread (tests and benchmarks read this)

    async def run(self, read: Callable[[sa.Connection], _T]) -> _T:
        """`read`'s result; raises what it raises. Cancelling the caller does not stop a read
        that has moved to a thread (it only reads)."""

        def on(engine: sa.Engine) -> _T:
            with engine.connect() as conn:
                return read(conn)

        return await self._inline_or_in_thread(on)

    async def run_raw(self, read: Callable[[sqlite3.Connection], _T]) -> _T:
        """`read` on the sqlite3 connection itself, in one read transaction (one snapshot),
        without SQLAlchemy's per-statement work (raw_statements); otherwise as `run`."""
        return await self._inline_or_in_thread(lambda engine: _read_raw(engine, read))

    async def _inline_or_in_thread(self, read_on: Callable[[sa.Engine], _T]) -> _T:
        """`read_on(inline engine)` within the budget; busy or interrupted, again on the
        thread engine in a worker thread."""
        try:
            self._budget.deadline = time.perf_counter() + INLINE_BUDGET_SECONDS
            try:
                return read_on(self.inline_engine)
            finally:
                self._budget.deadline = math.inf
        except (OperationalError, sqlite3.OperationalError) as exc:
            driver_error = exc.orig if isinstance(exc, OperationalError) else exc
            if getattr(driver_error, "sqlite_errorcode", None) not in _HANDED_OFF:
                raise
        self.handed_off += 1
        return await asyncio.to_thread(read_on, self.thread_engine)

    def _over_budget(self) -> bool:
        return time.perf_counter() > getattr(self._budget, "deadline", math.inf)

    def _configure_inline(self, dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        _configure(dbapi_connection, busy_timeout_ms=0)
        dbapi_connection.set_progress_handler(self._over_budget, _CHECK_EVERY_STEPS)

    def dispose(self) -> None:
        self.inline_engine.dispose()
        self.thread_engine.dispose()


def _configure(dbapi_connection: Any, *, busy_timeout_ms: int) -> None:
    # No implicit transactions from the driver (begin_sqlite begins one per read), and no
    # writes at all through these connections.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    cursor.close()


def _read_raw(engine: sa.Engine, read: Callable[[sqlite3.Connection], _T]) -> _T:
    pooled = engine.raw_connection()
    try:
        driver: sqlite3.Connection = pooled.driver_connection  # pyright: ignore[reportAssignmentType]
        driver.execute("BEGIN")
        try:
            return read(driver)
        finally:
            driver.rollback()  # (a no-op if SQLite ended it: an interrupted read)
    finally:
        pooled.close()


def _configure_thread(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    _configure(dbapi_connection, busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS)


_readers: weakref.WeakKeyDictionary[AsyncEngine, SqliteReader] = weakref.WeakKeyDictionary()


def sqlite_reader(db: Database) -> SqliteReader:
    """The reader of `db`'s SQLite file: one per Database engine, made on first use, closed
    when that engine is garbage-collected."""
    reader = _readers.get(db.engine)
    if reader is None:
        url = db.engine.url.set(drivername="sqlite+pysqlite")
        reader = _readers[db.engine] = SqliteReader(url)
        weakref.finalize(db.engine, reader.dispose)
    return reader
