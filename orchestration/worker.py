"""The worker: claims events, runs a handler on each, records the outcomes, keeps leases.

One loop claims batches while there are free slots (`concurrency`), sleeping on a wake-up
(LISTEN/NOTIFY, an in-process publish, or the polling period) when the queue is empty.
Outcomes are written back in batches by a settler task: whatever finished while the
previous write was in flight goes in the next one, so acks cost one round trip per batch
rather than per event. Heartbeats extend the leases of held events; a maintenance task
reaps the leases of dead workers and prunes old completed events.

Graceful stop (SIGTERM): stop claiming, give in-flight handlers `shutdown_grace_s` to
finish, record their outcomes, and hand the unfinished events back to the queue.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import anyio
from sqlalchemy.exc import DBAPIError

from orchestration.queue.config import QueueConfig
from orchestration.queue.sql_store import SqlQueueStore
from orchestration.queue.store import QueueStore, Settlement, system_clock
from orchestration.queue.types import ClaimedEvent, EventHandler, HandlerOutcome, OutcomeKind
from orchestration.wakeup import Wakeup
from shared.db.database import Database

__all__ = ["WakeSource", "Worker", "WorkerStats", "create_worker", "new_worker_id"]

log = logging.getLogger(__name__)

_STORE_ERRORS = (DBAPIError, OSError, TimeoutError)


class WakeSource(Protocol):
    async def start(self) -> None: ...
    async def wait(self, timeout_s: float) -> bool: ...
    def wake(self) -> None: ...
    async def stop(self) -> None: ...


@dataclass
class WorkerStats:
    claimed: int = 0
    completed: int = 0
    retried: int = 0
    dead_lettered: int = 0
    released: int = 0
    reaped: int = 0
    pruned: int = 0


def new_worker_id() -> str:
    """Unique per process and start: host, pid and a random suffix (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(
        self,
        store: QueueStore,
        handler: EventHandler,
        wakeup: WakeSource,
        *,
        config: QueueConfig | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.store = store
        self.handler = handler
        self.wakeup = wakeup
        self.config = config or QueueConfig()
        self.worker_id = worker_id or new_worker_id()
        self.stats = WorkerStats()
        self._inflight: dict[uuid.UUID, ClaimedEvent] = {}
        self._finished: list[Settlement] = []
        self._slot_freed = asyncio.Event()  # the settler recorded outcomes, or stop asked
        self._outcome_ready = asyncio.Event()  # a handler finished, or handlers are closed
        self._stopping = False
        self._handlers_closed = False
        self._closed = anyio.Event()  # the background loops exit at their next pause
        self._min_claim = max(1, min(self.config.batch_size, self.config.concurrency) // 2)

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    def stop(self) -> None:
        """Ask for a graceful stop: claim nothing more, finish or release what is held."""
        self._stopping = True
        self._slot_freed.set()
        self.wakeup.wake()

    async def run(self, *, drain: bool = False) -> WorkerStats:
        """Process events until stop() (or, with `drain`, until nothing is due and nothing
        is in flight). Returns what this worker did."""
        await self.wakeup.start()
        try:
            async with anyio.create_task_group() as background:
                background.start_soon(self._heartbeats)
                background.start_soon(self._maintenance)
                settler_done = anyio.Event()
                background.start_soon(self._settler, settler_done)
                try:
                    await self._process(drain=drain)
                finally:
                    self._stopping = True
                    self._handlers_closed = True
                    self._outcome_ready.set()
                    with anyio.CancelScope(shield=True):
                        await settler_done.wait()
                        await self._release_unfinished()
                    # Not cancelled mid-statement: a query cut off inside a SQLite write
                    # transaction can leave its connection holding the lock.
                    self._closed.set()
        finally:
            with anyio.CancelScope(shield=True):
                await self.wakeup.stop()
                await self.store.close()
        return self.stats

    async def _process(self, *, drain: bool) -> None:
        config = self.config
        async with anyio.create_task_group() as handlers:
            while not self._stopping:
                free = config.concurrency - len(self._inflight)
                # Busy: wait until half a batch fits, so claims stay batches, not trickles.
                if free <= 0 or (self._inflight and free < self._min_claim):
                    await self._wait_slot()
                    continue
                batch = await self._claim(min(free, config.batch_size))
                for event in batch:
                    self._inflight[event.id] = event
                    handlers.start_soon(self._handle, event)
                if batch:
                    continue
                if drain:
                    if not self._inflight:
                        return
                    await self._wait_slot()
                    continue
                await self.wakeup.wait(await self._idle_timeout())
            # Stopping: the handlers still running get the grace period, then are cancelled;
            # leaving this block waits for them either way.
            handlers.cancel_scope.deadline = anyio.current_time() + config.shutdown_grace_s

    async def _claim(self, limit: int) -> list[ClaimedEvent]:
        try:
            batch = await self.store.claim(
                self.worker_id, limit=limit, per_tenant=self.config.tenant_share
            )
        except _STORE_ERRORS as exc:
            log.warning("claim failed (%s); retrying in %.1fs", exc, self.config.poll_interval_s)
            await self.wakeup.wait(self.config.poll_interval_s)
            return []
        self.stats.claimed += len(batch)
        return batch

    async def _idle_timeout(self) -> float:
        """Sleep until the poll period ends or the next scheduled event is due."""
        timeout = self.config.poll_interval_s
        try:
            due = await self.store.next_due()
        except _STORE_ERRORS:
            return timeout
        if due is not None:
            timeout = min(timeout, max(0.0, (due - system_clock()).total_seconds()))
        return timeout

    async def _wait_slot(self) -> None:
        await self._slot_freed.wait()
        self._slot_freed.clear()

    async def _handle(self, event: ClaimedEvent) -> None:
        try:
            outcome = await self.handler(event)
        except Exception as exc:  # the handler boundary: a bug in one event must not stop us
            log.exception("handler raised on event %s (%s)", event.id, event.event_type)
            outcome = HandlerOutcome(
                OutcomeKind.RETRY,
                error={"type": type(exc).__name__, "message": str(exc)[:2000]},
            )
        self._finished.append(Settlement(event, outcome))
        self._outcome_ready.set()

    async def _settler(self, done: anyio.Event) -> None:
        try:
            while True:
                if not self._finished:
                    if self._handlers_closed:
                        return
                    await self._outcome_ready.wait()
                    self._outcome_ready.clear()
                    continue
                batch, self._finished = self._finished, []
                try:
                    report = await self.store.settle(self.worker_id, batch)
                except _STORE_ERRORS as exc:
                    log.warning("recording %d outcome(s) failed (%s); will retry", len(batch), exc)
                    self._finished = batch + self._finished
                    await anyio.sleep(self.config.poll_interval_s)
                    continue
                self.stats.completed += report.completed
                self.stats.retried += report.retried
                self.stats.dead_lettered += report.dead_lettered
                for item in batch:
                    self._inflight.pop(item.event.id, None)
                self._slot_freed.set()
        finally:
            done.set()

    async def _release_unfinished(self) -> None:
        if not self._inflight:
            return
        ids = list(self._inflight)
        try:
            self.stats.released += await self.store.release(self.worker_id, ids)
        except _STORE_ERRORS as exc:  # the reaper returns them after the visibility timeout
            log.warning("could not release %d event(s) (%s)", len(ids), exc)
        self._inflight.clear()

    async def _pause(self, seconds: float) -> bool:
        """Sleep `seconds`; False when the worker closed meanwhile."""
        with anyio.move_on_after(seconds):
            await self._closed.wait()
        return not self._closed.is_set()

    async def _heartbeats(self) -> None:
        while await self._pause(self.config.heartbeat_every_s):
            if self._inflight:
                try:
                    await self.store.heartbeat(self.worker_id)
                except _STORE_ERRORS as exc:
                    log.warning("heartbeat failed (%s)", exc)

    async def _maintenance(self) -> None:
        config = self.config
        next_prune = time.monotonic()
        while not self._closed.is_set():
            try:
                self.stats.reaped += await self.store.reap(config.visibility_timeout)
                if config.retention_days > 0 and time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + config.prune_interval_s
                    self.stats.pruned += await self.store.prune(
                        timedelta(days=config.retention_days)
                    )
            except _STORE_ERRORS as exc:
                log.warning("queue maintenance failed (%s)", exc)
            await self._pause(config.reap_every_s)


def create_worker(
    db: Database,
    handler: EventHandler,
    *,
    config: QueueConfig | None = None,
    worker_id: str | None = None,
) -> Worker:
    """A Worker on `db` with its SQL store and LISTEN/NOTIFY (or local) wake-ups."""
    config = config or QueueConfig()
    store = SqlQueueStore(db, retry_base_s=config.retry_base_s, retry_max_s=config.retry_max_s)
    return Worker(store, handler, Wakeup(db), config=config, worker_id=worker_id)
