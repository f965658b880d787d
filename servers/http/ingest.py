"""Group commit for webhook ingest: deliveries that arrive together share one transaction.

A transaction per delivery makes ingest as slow as the store's commit (and on SQLite every
writer queues for the one write lock). Here each request hands its event to a collector and
waits; the collector publishes whatever has gathered (up to `max_batch`) in one transaction,
each event in its own savepoint so a refused event fails alone, then answers every waiter.
A delivery is answered 202 only after its batch has committed: nothing acknowledged is lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from orchestration.events.models import CustomerEvent
from orchestration.events.publish import PublishResult, notify_local, publish_in
from shared.db.database import Database
from shared.errors import SwitchboardError

__all__ = ["GroupPublisher"]

log = logging.getLogger(__name__)


@dataclass
class _Pending:
    event: CustomerEvent
    done: anyio.Event
    result: PublishResult | None = None
    error: SwitchboardError | None = None


class GroupPublisher:
    """`await publish(event)` from request handlers; `run()` in the app's task group."""

    def __init__(self, db: Database, *, max_batch: int = 200) -> None:
        self.db = db
        self.max_batch = max_batch
        self._send: MemoryObjectSendStream[_Pending] | None = None  # while run() runs

    async def publish(self, event: CustomerEvent) -> PublishResult:
        """Raises the SwitchboardError publish raised for this event (validation, store)."""
        if self._send is None:  # no collector (e.g. a test without the lifespan): publish alone
            async with self.db.transaction() as conn:
                result = await publish_in(conn, event)
            notify_local()
            return result
        pending = _Pending(event, anyio.Event())
        await self._send.send(pending)
        await pending.done.wait()
        if pending.error is not None:
            raise pending.error
        if pending.result is None:  # the collector was stopped mid-batch (shutdown): rolled back
            raise SwitchboardError("the server is shutting down; the event was not queued")
        return pending.result

    async def run(self) -> None:
        send, receive = anyio.create_memory_object_stream[_Pending](max_buffer_size=10_000)
        self._send = send
        try:
            async with send, receive:
                await self._collect(receive)
        finally:
            self._send = None

    async def _collect(self, receive: MemoryObjectReceiveStream[_Pending]) -> None:
        async for first in receive:
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(receive.receive_nowait())
                except anyio.WouldBlock:
                    break
            await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            async with self.db.transaction() as conn:
                for pending in batch:
                    try:
                        async with conn.begin_nested():
                            pending.result = await publish_in(conn, pending.event)
                    except SwitchboardError as exc:  # this event only; the rest go on
                        pending.error = exc
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
            notify_local()
        finally:
            for pending in batch:
                pending.done.set()
