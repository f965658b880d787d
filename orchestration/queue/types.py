"""What the queue hands a worker, and what a worker's handler answers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

__all__ = ["ClaimedEvent", "EventHandler", "HandlerOutcome", "OutcomeKind"]


@dataclass(frozen=True)
class ClaimedEvent:
    """One event_queue row a worker holds (status 'processing') until it acks or releases it."""

    id: uuid.UUID  # event_queue.id
    tenant_id: uuid.UUID
    event_id: str  # the publisher's eventId
    event_type: str
    event_data: dict[str, Any]
    event_source: str | None
    customer_id: str | None
    priority: int
    attempts: int  # including this one
    max_retries: int
    chain_depth: int
    workflow_triggers: list[str] | None
    created_at: datetime
    scheduled_for: datetime
    occurred_at: datetime | None = None  # the publisher's event timestamp
    # False only when no workflow execution can name this event as its trigger yet (the
    # claim knows: see queue/claim.py); the workflow handler then skips looking for one.
    may_have_executions: bool = True

    @property
    def max_attempts(self) -> int:
        """The first attempt plus `max_retries` retries."""
        return self.max_retries + 1

    @property
    def is_last_attempt(self) -> bool:
        """A RETRY outcome now dead-letters the event instead of rescheduling it."""
        return self.attempts >= self.max_attempts


class OutcomeKind(StrEnum):
    COMPLETED = "completed"  # ack: status 'completed', processing_result stored
    RETRY = "retry"  # back to 'pending' at retry_at, or dead-lettered when out of attempts
    FAILED = "failed"  # dead-letter now, no more attempts (bad data, not transient)


@dataclass(frozen=True)
class HandlerOutcome:
    kind: OutcomeKind
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    retry_at: datetime | None = None  # None with RETRY: the queue's own backoff decides
    extra: dict[str, Any] = field(default_factory=dict[str, Any])
    # COMPLETED only: workflow_executions rows (values by column) written in the statement
    # that records the outcome, and only if the worker still holds the event: the event
    # is done exactly when its executions exist (orchestration.queue.pg_complete).
    executions: tuple[dict[str, Any], ...] = ()


class EventHandler(Protocol):
    """Called by a worker for each claimed event. Must not raise for expected failures:
    return RETRY or FAILED with an error dict. An exception is treated as RETRY."""

    async def __call__(self, event: ClaimedEvent) -> HandlerOutcome: ...
