"""The worker: claims events, runs a handler on each, records the outcomes, keeps leases.

One loop claims batches while there are free slots (`concurrency`), sleeping on a wake-up
(LISTEN/NOTIFY, an in-process publish, or the polling period) when the queue is empty.
Outcomes are written back in batches by a settler task: whatever finished while the
previous write was in flight goes in the next one, so acks cost one round trip per batch
rather than per event. Heartbeats extend the leases of held events; a maintenance task
reaps the leases of dead workers and applies retention (retention.py) on its schedule.

Each handler call runs in its own asyncio task under `handler_timeout_s`: a call that
overruns is cancelled and counts as a failed attempt (retried per the policy, dead-lettered
after the last one). When a heartbeat finds that an event this worker is still handling was
reaped (this worker stalled past the visibility timeout and another may have taken it over),
the handler is cancelled and its outcome is never recorded. The tasks and their timeouts are
plain asyncio (a task and a timer handle), not anyio task groups and cancel scopes: at
thousands of events a second those cost more than the queue's own SQL work.

Latency: the claim loop never waits on anything but the claim itself and the wake-up latch.
The time of the next scheduled event is looked up by a separate timer task, so a NOTIFY
that arrives while it is being looked up is answered at once.

Graceful stop (SIGTERM): stop claiming, give in-flight handlers `shutdown_grace_s` to
finish, record their outcomes, and hand the unfinished events back to the queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import anyio

from orchestration.db_errors import CONNECTION_ERRORS
from orchestration.queue.config import QueueConfig
from orchestration.queue.sql_store import SqlQueueStore
from orchestration.queue.store import QueueStore, Settlement, system_clock
from orchestration.queue.types import ClaimedEvent, EventHandler, HandlerOutcome, OutcomeKind
from orchestration.wakeup import Wakeup
from orchestration.worker_parts import (
    WakeSource,
    WorkerStats,
    new_worker_id,
    retention_policy,
)
from shared.db.database import Database

__all__ = [
    "WakeSource",
    "Worker",
    "WorkerStats",
    "create_worker",
    "new_worker_id",
    "retention_policy",
]

log = logging.getLogger(__name__)

_STORE_ERRORS = CONNECTION_ERRORS  # what a store call can fail with and the worker outlives
_ACKS_OWED_PER_SLOT = 4  # finished events awaiting their recorded outcome, per handler slot


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
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}  # handlers not yet returned
        self._expired: set[uuid.UUID] = set()  # cancelled by handler_timeout_s
        self._busy = 0  # claimed events whose handler has not returned (started or not)
        self._lost: set[uuid.UUID] = set()  # reaped while their handler ran: cancelled
        self._idle = asyncio.Event()  # the claim loop went idle: the due timer looks ahead
        self._finished: list[Settlement] = []
        self._settles = 0  # outcome batches recorded: a drain's empty claim must follow them
        self._slot_freed = asyncio.Event()  # a handler returned, acks were recorded, or stop
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
                background.start_soon(self._due_timer)
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
                    self._idle.set()  # the due timer sees the close
        finally:
            with anyio.CancelScope(shield=True):
                await self.wakeup.stop()
                await self.store.close()
        return self.stats

    async def _process(self, *, drain: bool) -> None:
        config = self.config
        try:
            while not self._stopping:
                # A slot is a running handler: a finished event awaiting its (batched) ack
                # holds none, so claims overlap the ack round trip instead of waiting for it
                # (which would cap a worker at concurrency / ack latency). The acks owed are
                # capped too, in case the store stops answering.
                free = config.concurrency - self._busy
                owed = len(self._inflight) - self._busy
                # Busy: wait until half a batch fits, so claims stay batches, not trickles.
                if (
                    free <= 0
                    or owed >= _ACKS_OWED_PER_SLOT * config.concurrency
                    or (self._busy and free < self._min_claim)
                ):
                    await self._wait_slot()
                    continue
                limit = min(free, config.batch_size)
                settles_before = self._settles
                batch = await self._claim(limit)
                if batch is None:  # the store failed (and was waited for): proves nothing
                    continue
                self._busy += len(batch)
                for event in batch:
                    self._inflight[event.id] = event
                    self._running[event.id] = asyncio.create_task(self._handle(event))
                # Claim until a claim comes back empty: a short batch does not prove the
                # queue drained (rows another worker's claim had locked were skipped), and
                # a worker that went idle on it would wait for a NOTIFY that never comes.
                if batch:
                    continue
                if drain:
                    # Drained only if every outcome was recorded before this claim began: a
                    # retry recorded while it ran is pending again, and the claim may have
                    # looked before it was.
                    if not self._inflight and self._settles == settles_before:
                        return
                    if not self._inflight:
                        continue
                    await self._wait_slot()
                    continue
                self._idle.set()
                await self.wakeup.wait(config.poll_interval_s)
            # Stopping: the handlers still running get the grace period, then are cancelled.
            if self._running:
                await asyncio.wait(list(self._running.values()), timeout=config.shutdown_grace_s)
        finally:
            await self._cancel_handlers()

    async def _cancel_handlers(self) -> None:
        """Cancel the handlers still running and wait for them: their events stay in flight
        and are handed back to the queue (or reaped, if the process dies first)."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        if tasks:
            with anyio.CancelScope(shield=True):
                await asyncio.wait(tasks)

    async def _claim(self, limit: int) -> list[ClaimedEvent] | None:
        """The claimed batch; None when the store failed (after waiting a poll interval):
        not an empty queue, which a draining worker would take as drained."""
        try:
            batch = await self.store.claim(
                self.worker_id, limit=limit, per_tenant=self.config.tenant_share
            )
        except _STORE_ERRORS as exc:
            log.warning("claim failed (%s); retrying in %.1fs", exc, self.config.poll_interval_s)
            await self.wakeup.wait(self.config.poll_interval_s)
            return None
        self.stats.claimed += len(batch)
        return batch

    async def _due_timer(self) -> None:
        """Each time the claim loop goes idle, wake it when the earliest scheduled event
        falls due, if that is before its next poll. A newer idle period starts over."""
        while True:
            await self._idle.wait()
            self._idle.clear()
            if self._closed.is_set():
                return
            try:
                due = await self.store.next_due()
            except _STORE_ERRORS:
                continue  # the poll still comes
            if due is None:
                continue
            delay = max(0.0, (due - system_clock()).total_seconds())
            if delay >= self.config.poll_interval_s:
                continue
            with anyio.move_on_after(delay) as timer:
                await self._idle.wait()  # superseded: look again
            if timer.cancelled_caught:
                self.wakeup.wake()

    async def _wait_slot(self) -> None:
        await self._slot_freed.wait()
        self._slot_freed.clear()

    async def _handle(self, event: ClaimedEvent) -> None:
        limit = self.config.handler_timeout
        timer = (
            asyncio.get_running_loop().call_later(limit, self._expire, event.id)
            if limit is not None
            else None
        )
        outcome: HandlerOutcome | None = None
        try:
            outcome = await self._call_handler(event)
        except asyncio.CancelledError:
            # Ours (a timeout, a lost lease) end here; any other is a stop: the event stays
            # in flight and is released.
            if event.id not in self._expired and event.id not in self._lost:
                raise
        finally:
            if timer is not None:
                timer.cancel()
            self._running.pop(event.id, None)
            self._busy -= 1
            self._slot_freed.set()
        if event.id in self._lost:  # another worker may be running it now: record nothing
            self._lost.discard(event.id)
            self._expired.discard(event.id)
            self.stats.lost_leases += 1
            self._inflight.pop(event.id, None)
            return
        if event.id in self._expired:
            self._expired.discard(event.id)
            outcome = self._timed_out(event, limit or 0.0)
        assert outcome is not None
        self._finished.append(Settlement(event, outcome))
        self._outcome_ready.set()

    def _expire(self, event_id: uuid.UUID) -> None:
        task = self._running.get(event_id)
        if task is not None:
            self._expired.add(event_id)
            task.cancel()

    async def _call_handler(self, event: ClaimedEvent) -> HandlerOutcome:
        try:
            return await self.handler(event)
        except Exception as exc:  # the handler boundary: a bug in one event must not stop us
            log.exception("handler raised on event %s (%s)", event.id, event.event_type)
            return HandlerOutcome(
                OutcomeKind.RETRY,
                error={"type": type(exc).__name__, "message": str(exc)[:2000]},
            )

    def _timed_out(self, event: ClaimedEvent, limit: float) -> HandlerOutcome:
        self.stats.timed_out += 1
        log.warning(
            "handler for event %s (%s) exceeded %.1fs; cancelled, counted as a failed attempt",
            event.id,
            event.event_type,
            limit,
        )
        return HandlerOutcome(
            OutcomeKind.RETRY,
            error={
                "type": "handler_timeout",
                "message": f"the handler did not finish within {limit:g}s "
                "(SWITCHBOARD_QUEUE_HANDLER_TIMEOUT_S); the attempt was cancelled",
            },
        )

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
                self._settles += 1
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
            if not self._inflight:
                continue
            # Taken before the statement: every one of these was claimed (committed) before
            # it, so each is still held unless it was reaped.
            running = {
                event_id: self._inflight[event_id].attempts
                for event_id in self._running
                if event_id in self._inflight
            }
            try:
                held = await self.store.renew(self.worker_id)
            except _STORE_ERRORS as exc:
                log.warning("heartbeat failed (%s)", exc)
                continue
            for event_id, attempts in running.items():
                task = self._running.get(event_id)
                if task is not None and (event_id, attempts) not in held:
                    log.warning(
                        "event %s was reaped while its handler ran (this worker stalled past "
                        "the visibility timeout); cancelling the handler, recording nothing",
                        event_id,
                    )
                    self._lost.add(event_id)
                    task.cancel()

    async def _maintenance(self) -> None:
        config = self.config
        next_retention = time.monotonic()
        while not self._closed.is_set():
            try:
                self.stats.reaped += await self.store.reap(config.visibility_timeout)
                if config.retention_days > 0 and time.monotonic() >= next_retention:
                    next_retention = time.monotonic() + config.prune_interval_s
                    report = await self.store.retain(retention_policy(config))
                    self.stats.retained_events += report.events
                    self.stats.retained_executions += report.executions
                    if report.events or report.executions or report.archived_deleted:
                        log.info("retention (%s): %s", config.retention_mode, report.as_dict())
            except _STORE_ERRORS as exc:
                log.warning("queue maintenance failed (%s)", exc)
            await self._pause(min(config.reap_every_s, config.prune_interval_s))


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
