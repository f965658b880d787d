"""Group commit for webhook ingest: deliveries that arrive together share one transaction.

A transaction per delivery makes ingest as slow as the store's commit (and on SQLite every
writer queues for the one write lock). Here each request hands its event to a collector and
waits; the collector publishes whatever has gathered (up to `max_batch`) in one transaction
with one multi-row insert (`orchestration.events.publish_batch`: a refused event fails
alone), then answers every waiter. While one batch commits the next one gathers, so the
batch size follows the load: one event when idle, hundreds under a burst. On SQLite the
transaction runs on a worker thread (`SqliteBatchWriter`). On Postgres it runs on the event
loop, on an autocommit connection the collector keeps: each multi-row insert (up to 500
rows) is its own transaction, one round trip per batch with no pool checkout, liveness ping,
BEGIN, savepoint or COMMIT; a dropped connection is replaced and the batch retried once,
which deduplication makes safe.

The guarantee: a delivery is answered 202 only after the transaction holding its row has
committed (the waiter is released after COMMIT returns), so nothing acknowledged is lost to
a crash of the process. On SQLite the store runs in WAL mode with `synchronous=NORMAL`: a
committed transaction survives a crash of the process but the last few may be lost if the
machine loses power before the next checkpoint; Postgres follows its `synchronous_commit`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from orchestration.events.models import CustomerEvent
from orchestration.events.publish import PublishResult, notify_local, publish_in
from orchestration.events.publish_batch import (
    BatchOutcome,
    merge_outcomes,
    needs_type_lookup,
    publish_batch_in,
    refused_event_types,
)
from servers.http.sqlite_ingest import SqliteBatchWriter
from shared.db.database import Database
from shared.errors import SwitchboardError

__all__ = ["GroupPublisher"]

log = logging.getLogger(__name__)

_NOT_QUEUED = "the server is shutting down; the event was not queued"


@dataclass
class _Pending:
    event: CustomerEvent
    done: anyio.Event
    result: PublishResult | None = None
    error: SwitchboardError | None = None


class GroupPublisher:
    """`await publish(event)` from request handlers; `run()` in the app's task group."""

    def __init__(self, db: Database, *, max_batch: int = 500) -> None:
        self.db = db
        self.max_batch = max_batch
        self._send: MemoryObjectSendStream[_Pending] | None = None  # while run() runs
        self._sqlite: SqliteBatchWriter | None = None  # while run() runs, on SQLite
        self._conn: AsyncConnection | None = None  # kept between batches, on Postgres

    async def publish(self, event: CustomerEvent) -> PublishResult:
        """Raises the SwitchboardError publish raised for this event (validation, store)."""
        if self._send is None:  # no collector (e.g. a test without the lifespan): publish alone
            async with self.db.transaction() as conn:
                result = await publish_in(conn, event)
            notify_local()
            return result
        pending = _Pending(event, anyio.Event())
        try:
            await self._send.send(pending)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            raise SwitchboardError(_NOT_QUEUED) from None
        await pending.done.wait()
        if pending.error is not None:
            raise pending.error
        if pending.result is None:
            raise SwitchboardError(_NOT_QUEUED)
        return pending.result

    async def run(self) -> None:
        send, receive = anyio.create_memory_object_stream[_Pending](max_buffer_size=10_000)
        if self.db.target.sqlite_path is not None:
            self._sqlite = SqliteBatchWriter(self.db.target.sqlite_path)
        self._send = send
        try:
            await self._collect(receive)
        finally:
            self._send = None
            send.close()
            # Handed over but never collected: answer them (503, nothing queued) rather
            # than leave their requests waiting.
            with receive:
                while True:
                    try:
                        receive.receive_nowait().done.set()
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
            if self._sqlite is not None:
                self._sqlite.close()
                self._sqlite = None
            with anyio.CancelScope(shield=True):
                await self._drop_connection()

    async def _collect(self, receive: MemoryObjectReceiveStream[_Pending]) -> None:
        async for first in receive:
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(receive.receive_nowait())
                except anyio.WouldBlock:
                    break
            # Shielded: a shutdown lets the batch being written finish and be answered.
            with anyio.CancelScope(shield=True):
                await self._commit(batch)

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(DBAPIError):  # already broken: the pool discards it
                await conn.close()

    async def _write_on_kept_connection(
        self, events: Sequence[CustomerEvent]
    ) -> list[BatchOutcome]:
        for attempt in (1, 2):
            if self._conn is None:
                # Autocommit: each multi-row insert is its own transaction, committed when it
                # returns; one round trip per batch instead of BEGIN, SAVEPOINT, INSERT,
                # RELEASE, COMMIT.
                connection = await self.db.engine.connect()
                self._conn = await connection.execution_options(isolation_level="AUTOCOMMIT")
            try:
                async with self._conn.begin():  # bookkeeping only: no BEGIN in autocommit
                    return await publish_batch_in(self._conn, events, autocommit=True)
            except DBAPIError as exc:
                await self._drop_connection()
                # A connection lost mid-batch (a restarted server, a dropped socket): once
                # more on a new one. Rows it did commit come back as duplicates, still 202.
                if attempt == 2 or not exc.connection_invalidated:
                    raise
            except Exception:
                await self._drop_connection()  # whatever state it is in, start afresh
                raise
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def _write(self, events: Sequence[CustomerEvent]) -> list[BatchOutcome]:
        if self._sqlite is None:
            return await self._write_on_kept_connection(events)
        refused: list[SwitchboardError | None] = [None] * len(events)
        if needs_type_lookup(events):  # custom event types: read the tenants' settings
            async with self.db.engine.connect() as conn:
                refused = await refused_event_types(conn, events)
        allowed = [event for event, error in zip(events, refused, strict=True) if error is None]
        return merge_outcomes(refused, await self._sqlite.write(allowed) if allowed else [])

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            outcomes = await self._write([pending.event for pending in batch])
            for pending, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, SwitchboardError):  # this event only; the rest go on
                    pending.error = outcome
                else:
                    pending.result = outcome
        except Exception as exc:  # top of a background loop: answer every waiter, keep going
            log.warning("a batch of %d webhook events could not be committed: %s", len(batch), exc)
            failure = (
                exc
                if isinstance(exc, SwitchboardError)
                else SwitchboardError("the store could not commit the events; retry later")
            )
            for pending in batch:
                pending.result, pending.error = None, failure
        else:
            if any(pending.result is not None and pending.result.accepted for pending in batch):
                notify_local()
        finally:
            for pending in batch:
                pending.done.set()
