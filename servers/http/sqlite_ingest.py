"""Writing webhook batches to SQLite on one worker thread, one hop per batch.

Through the async engine every statement of a batch (BEGIN, the insert, its cursor, fetch
and close, COMMIT, the pool's reset) is a hop from the event loop to aiosqlite's thread
and back; on a loaded machine those hops cost more than the SQL. Here the whole
transaction runs on a worker thread with the synchronous sqlite3 driver: one hop per
batch, and sqlite3 releases the GIL while SQLite works, so the event loop keeps parsing
requests meanwhile. Same file, same table definitions (so the same stored formats), and
the same connection settings as `shared.db.engine` for SQLite.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import anyio

from orchestration.events.models import CustomerEvent
from orchestration.events.publish_batch import BatchOutcome, insert_batch
from shared.db.engine import sqlite_thread_engine

__all__ = ["SqliteBatchWriter"]


class SqliteBatchWriter:
    """`await write(events)`: one transaction on a worker thread; `close()` when done."""

    def __init__(self, path: Path) -> None:
        self.engine = sqlite_thread_engine(path)

    def _write_now(self, events: Sequence[CustomerEvent]) -> list[BatchOutcome]:
        # The write lock up front (BEGIN IMMEDIATE), as every writer of the app takes it.
        with self.engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            return insert_batch(conn, events)

    async def write(self, events: Sequence[CustomerEvent]) -> list[BatchOutcome]:
        """Commit `events` (types already checked); returns after COMMIT has returned.

        Not abandoned on cancellation: a batch being written finishes, so a shutdown never
        leaves the waiters of a committed batch without their answer.
        """
        return await anyio.to_thread.run_sync(self._write_now, events)

    def close(self) -> None:
        self.engine.dispose()
