"""`Worker.run(drain=True)` exits only when the queue really is drained.

A claim that comes back empty proves nothing about an outcome recorded while it ran: a retry
recorded then is pending again (and due), but the claim looked before it was.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import asyncpg  # pyright: ignore[reportMissingTypeStubs]

from orchestration.queue.config import QueueConfig
from orchestration.queue.store import Settlement, SettleReport, system_clock
from orchestration.queue.types import ClaimedEvent, HandlerOutcome, OutcomeKind
from orchestration.worker import Worker, WorkerStats
from tests.unit.orchestration.claimed_events import claimed_event


class _SlowClaimStore:
    """In memory; a claim decides what it returns, then takes a while to answer (as a
    round trip does), so an outcome can be recorded between its look and its answer."""

    def __init__(self, event: ClaimedEvent) -> None:
        self.event = event
        self.status = "pending"
        self.attempts = 0

    async def claim(self, worker_id: str, *, limit: int, per_tenant: int) -> list[ClaimedEvent]:
        due = self.status == "pending"
        if due:
            self.status = "processing"
            self.attempts += 1
        await asyncio.sleep(0.01)
        return [self._claimed()] if due else []

    def _claimed(self) -> ClaimedEvent:
        return ClaimedEvent(**{**self.event.__dict__, "attempts": self.attempts})

    async def settle(self, worker_id: str, settlements: Sequence[Settlement]) -> SettleReport:
        (settled,) = settlements
        retry = settled.outcome.kind is OutcomeKind.RETRY
        self.status = "pending" if retry else "completed"
        return SettleReport(completed=0 if retry else 1, retried=1 if retry else 0)

    async def renew(self, worker_id: str) -> set[tuple[uuid.UUID, int]]:
        return {(self.event.id, self.attempts)}

    async def release(self, worker_id: str, ids: Sequence[uuid.UUID]) -> int:
        return 0

    async def reap(self, visibility_timeout: timedelta) -> int:
        return 0

    async def next_due(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def __getattr__(self, name: str) -> Any:  # the rest of QueueStore: unused here
        raise AttributeError(name)


class _NoWakeups:
    async def start(self) -> None:
        return None

    async def wait(self, timeout_s: float) -> bool:
        await asyncio.sleep(0)
        return False

    def wake(self) -> None:
        return None

    async def stop(self) -> None:
        return None


async def test_a_retry_recorded_during_an_empty_claim_is_still_run_before_draining() -> None:
    now = system_clock()
    queued = ClaimedEvent(
        id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        event_id="e1",
        event_type="deal_closed",
        event_data={},
        event_source=None,
        customer_id=None,
        priority=5,
        attempts=0,
        max_retries=3,
        chain_depth=0,
        workflow_triggers=None,
        created_at=now,
        scheduled_for=now,
    )
    store = _SlowClaimStore(queued)
    seen: list[int] = []

    async def handler(event: ClaimedEvent) -> HandlerOutcome:
        seen.append(event.attempts)
        if event.attempts == 1:
            return HandlerOutcome(OutcomeKind.RETRY, retry_at=system_clock())
        return HandlerOutcome(OutcomeKind.COMPLETED)

    worker = Worker(
        store,  # pyright: ignore[reportArgumentType]
        handler,
        _NoWakeups(),
        config=QueueConfig(concurrency=1, batch_size=1, retention_days=0),
    )
    stats = await asyncio.wait_for(worker.run(drain=True), timeout=10)

    assert seen == [1, 2]
    assert store.status == "completed"
    assert (stats.retried, stats.completed) == (1, 1)


async def _drain_completing(store: _SlowClaimStore) -> WorkerStats:
    """A draining worker of one slot whose handler completes every event, polling fast."""

    async def handler(event: ClaimedEvent) -> HandlerOutcome:
        return HandlerOutcome(OutcomeKind.COMPLETED)

    worker = Worker(
        store,  # pyright: ignore[reportArgumentType]
        handler,
        _NoWakeups(),
        config=QueueConfig(concurrency=1, batch_size=1, retention_days=0, poll_interval_s=0.01),
    )
    return await asyncio.wait_for(worker.run(drain=True), timeout=10)


class _DeadlockOnceStore(_SlowClaimStore):
    """Its first acknowledgement fails as Postgres fails one side of a deadlock it broke
    (raised by asyncpg itself on the queue's fast paths, not through SQLAlchemy)."""

    def __init__(self, event: ClaimedEvent) -> None:
        super().__init__(event)
        self.failed_settles = 0

    async def settle(self, worker_id: str, settlements: Sequence[Settlement]) -> SettleReport:
        if not self.failed_settles:
            self.failed_settles += 1
            raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected")
        return await super().settle(worker_id, settlements)


async def test_a_worker_outlives_a_database_error_from_the_asyncpg_paths() -> None:
    store = _DeadlockOnceStore(claimed_event(attempts=0))
    stats = await _drain_completing(store)

    assert store.failed_settles == 1  # the outcome was recorded on the next try
    assert store.status == "completed" and stats.completed == 1


class _CutConnectionOnceStore(_SlowClaimStore):
    """Its first claim fails as asyncpg fails a statement sent on a connection the server
    has just cut, while it is still reading the server's goodbye (seen in the chaos test's
    connection cuts: it once ended a worker)."""

    def __init__(self, event: ClaimedEvent) -> None:
        super().__init__(event)
        self.failed_claims = 0

    async def claim(self, worker_id: str, *, limit: int, per_tenant: int) -> list[ClaimedEvent]:
        if not self.failed_claims:
            self.failed_claims += 1
            raise asyncpg.exceptions.InternalClientError(
                "cannot switch to state 12; another operation (2) is in progress"
            )
        return await super().claim(worker_id, limit=limit, per_tenant=per_tenant)


async def test_a_worker_outlives_a_claim_on_a_connection_the_server_is_closing() -> None:
    store = _CutConnectionOnceStore(claimed_event(attempts=0))
    stats = await _drain_completing(store)

    # Claimed again on the next try: a failed claim is not an empty queue, even when draining.
    assert store.failed_claims == 1
    assert store.status == "completed" and stats.completed == 1
