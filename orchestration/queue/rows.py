"""Turning event_queue rows into what a worker holds and what listings show."""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa

from orchestration.queue.store import QueuedEvent
from orchestration.queue.types import ClaimedEvent

__all__ = ["to_claimed", "to_queued"]


def to_claimed(row: sa.RowMapping) -> ClaimedEvent:
    return ClaimedEvent(
        id=row["id"],
        tenant_id=row["tenant_id"],
        event_id=row["event_id"] or str(row["id"]),
        event_type=row["event_type"],
        event_data=dict(row["event_data"] or {}),
        event_source=row["event_source"],
        customer_id=row["customer_id"],
        priority=row["priority"] if row["priority"] is not None else 5,
        attempts=row["attempts"] or 0,
        max_retries=row["max_retries"] if row["max_retries"] is not None else 3,
        chain_depth=row["chain_depth"] or 0,
        workflow_triggers=row["workflow_triggers"],
        created_at=row["created_at"],
        scheduled_for=row["scheduled_for"],
        occurred_at=row["occurred_at"],
        may_have_executions=bool(row.get("may_have_executions", True)),
    )


def to_queued(row: sa.RowMapping) -> QueuedEvent:
    errors = row["error_details"]
    return QueuedEvent(
        id=row["id"],
        tenant_id=row["tenant_id"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        status=row["status"],
        priority=row["priority"],
        attempts=row["attempts"] or 0,
        max_retries=row["max_retries"] if row["max_retries"] is not None else 3,
        scheduled_for=row["scheduled_for"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        customer_id=row["customer_id"],
        event_source=row["event_source"],
        worker_id=row["worker_id"],
        event_data=dict(row["event_data"] or {}),
        processing_result=row["processing_result"],
        error_details=cast("list[Any]", errors)
        if isinstance(errors, list)
        else ([errors] if errors else None),
    )
