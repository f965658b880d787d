"""The queue's contract: what a worker, the CLI and the dashboard may do with event_queue.

Statuses: pending -> processing -> completed | pending (retry) | failed (dead letter).
A held event carries a lease (worker_id, attempts); every write a worker makes about it
is fenced by that lease, so a worker whose lease was reaped cannot overwrite the outcome
of the worker that took the event over.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from orchestration.queue.retention import RetentionPolicy, RetentionReport
from orchestration.queue.types import ClaimedEvent, HandlerOutcome

__all__ = [
    "Clock",
    "EventStatus",
    "QueueStore",
    "QueuedEvent",
    "ReplayFilter",
    "SettleReport",
    "Settlement",
    "system_clock",
]

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class EventStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"  # dead-lettered: out of attempts, or failed for good


@dataclass(frozen=True)
class Settlement:
    """A handler's outcome for an event this worker holds."""

    event: ClaimedEvent
    outcome: HandlerOutcome


@dataclass(frozen=True)
class SettleReport:
    completed: int = 0
    retried: int = 0
    dead_lettered: int = 0

    def plus(self, other: SettleReport) -> SettleReport:
        return SettleReport(
            self.completed + other.completed,
            self.retried + other.retried,
            self.dead_lettered + other.dead_lettered,
        )


@dataclass(frozen=True)
class ReplayFilter:
    """Which dead-lettered (or completed) events to run again; unset fields match all."""

    status: EventStatus = EventStatus.FAILED
    event_type: str | None = None
    tenant_id: uuid.UUID | None = None
    since: datetime | None = None  # created_at >= since
    until: datetime | None = None  # created_at < until


@dataclass(frozen=True)
class QueuedEvent:
    """One event_queue row as listings show it."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    event_id: str | None
    event_type: str
    status: str
    priority: int | None
    attempts: int
    max_retries: int
    scheduled_for: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    customer_id: str | None
    event_source: str | None
    worker_id: str | None
    event_data: dict[str, Any] = field(default_factory=dict[str, Any])
    processing_result: dict[str, Any] | None = None
    error_details: list[Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "tenant_id": str(self.tenant_id),
            "event_id": self.event_id,
            "event_type": self.event_type,
            "status": self.status,
            "priority": self.priority,
            "attempts": self.attempts,
            "max_retries": self.max_retries,
            "scheduled_for": self.scheduled_for.isoformat() if self.scheduled_for else None,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
            "customer_id": self.customer_id,
            "event_source": self.event_source,
            "worker_id": self.worker_id,
            "event_data": self.event_data,
            "processing_result": self.processing_result,
            "error_details": self.error_details,
        }


class QueueStore(Protocol):
    """The event queue on one database. Implementations: SQLite and Postgres."""

    dialect: str

    async def claim(self, worker_id: str, *, limit: int, per_tenant: int) -> list[ClaimedEvent]:
        """Take up to `limit` due events (at most `per_tenant` of one tenant), best first:
        by priority, then round-robin across tenants, then due time. Status -> processing."""
        ...

    async def settle(self, worker_id: str, settlements: Sequence[Settlement]) -> SettleReport:
        """Record outcomes: complete, reschedule with backoff, or dead-letter."""
        ...

    async def heartbeat(self, worker_id: str) -> int:
        """Extend the lease on every event this worker holds; returns how many it holds."""
        ...

    async def renew(self, worker_id: str) -> set[tuple[uuid.UUID, int]]:
        """Extend this worker's leases; the (id, attempts) it still holds. An event it
        thinks it holds but that is missing here was reaped and belongs to someone else."""
        ...

    async def release(self, worker_id: str, ids: Sequence[uuid.UUID]) -> int:
        """Hand unfinished events back (graceful shutdown); the attempt is not counted."""
        ...

    async def reap(self, visibility_timeout: timedelta) -> int:
        """Return events whose worker stopped heartbeating to the queue (or dead-letter them
        when they are out of attempts); returns how many were reaped."""
        ...

    async def replay(
        self, *, ids: Sequence[uuid.UUID] = (), where: ReplayFilter | None = None
    ) -> int:
        """Queue failed (or completed) events again with fresh attempts."""
        ...

    async def prune(self, older_than: timedelta, *, batch: int = 5000) -> int:
        """Delete completed events last updated before now - older_than."""
        ...

    async def retain(self, policy: RetentionPolicy) -> RetentionReport:
        """Archive or delete finished events and executions past retention (retention.py)."""
        ...

    async def list_events(
        self,
        *,
        tenant_id: uuid.UUID | None = None,
        status: str | None = None,
        event_type: str | None = None,
        limit: int = 50,
    ) -> list[QueuedEvent]: ...

    async def get(self, queue_id: uuid.UUID) -> QueuedEvent | None: ...

    async def counts(self, tenant_id: uuid.UUID | None = None) -> dict[str, int]: ...

    async def next_due(self) -> datetime | None:
        """When the earliest pending event becomes due (None: nothing pending)."""
        ...

    async def close(self) -> None:
        """Release connections the store opened for itself."""
        ...
