"""Publishing a CustomerEvent onto the queue: validated, deduplicated, prioritised, durable.

`publish(db, event)` commits on its own; `publish(conn, event)` writes inside the caller's
transaction (the outbox pattern: a CRM write and the event it causes commit or roll back
together). On Postgres the same transaction sends NOTIFY, which Postgres delivers only at
commit, so idle workers wake within milliseconds of the event becoming visible.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from orchestration.events.custom_types import check_event_type
from orchestration.events.models import CustomerEvent
from orchestration.wakeup import NOTIFY_CHANNEL, notify_local
from shared.db.database import Database
from shared.db.schema import event_queue
from shared.errors import ValidationFailedError

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "MAX_CHAIN_DEPTH",
    "PublishResult",
    "publish",
    "queue_row",
]

DEFAULT_MAX_RETRIES = 3
MAX_CHAIN_DEPTH = 10


@dataclass(frozen=True)
class PublishResult:
    queue_id: uuid.UUID  # event_queue.id: of the new row, or of the earlier one for a duplicate
    accepted: bool  # False: (tenant, eventId) was already queued; nothing new was written

    @property
    def duplicate(self) -> bool:
        return not self.accepted


def queue_row(
    event: CustomerEvent,
    scheduled_for: datetime,
    max_retries: int,
    chain_depth: int,
    now: datetime,
) -> dict[str, Any]:
    wire = event.model_dump(mode="json")  # JSON-safe event_data (datetimes become strings)
    return {
        "id": uuid.uuid4(),
        "tenant_id": event.tenant_id,
        "event_id": event.event_id,
        "event_type": event.event_type,
        "event_data": wire["event_data"],
        "event_source": event.source.value,
        "customer_id": event.customer_id,
        "priority": event.queue_priority,
        "scheduled_for": scheduled_for,
        "max_retries": max_retries,
        "status": "pending",
        "attempts": 0,
        "workflow_triggers": event.workflow_triggers,
        "chain_depth": chain_depth,
        "occurred_at": event.timestamp,
        "created_at": now,
        "updated_at": now,
    }


def _insert_ignoring_duplicates(dialect: str, row: dict[str, Any]) -> sa.Executable:
    if dialect == "postgresql":
        # NOTIFY from RETURNING: one round trip, and only when a row was really inserted.
        # Postgres delivers it at commit, so a rolled-back outbox write wakes nobody.
        return (
            postgresql.insert(event_queue)
            .values(row)
            .on_conflict_do_nothing(index_elements=["tenant_id", "event_id"])
            .returning(event_queue.c.id, sa.func.pg_notify(NOTIFY_CHANNEL, "").label("notified"))
        )
    return (
        sqlite.insert(event_queue)
        .values(row)
        .on_conflict_do_nothing(index_elements=["tenant_id", "event_id"])
        .returning(event_queue.c.id)
    )


def _check_options(schedule_at: datetime | None, max_retries: int, chain_depth: int) -> None:
    if schedule_at is not None and schedule_at.tzinfo is None:
        raise ValidationFailedError(
            "schedule_at has no time zone; pass an aware datetime such as "
            "datetime(2026, 1, 1, 9, tzinfo=UTC)"
        )
    if not 0 <= max_retries <= 100:
        raise ValidationFailedError(f"max_retries must be 0-100, not {max_retries}")
    if not 0 <= chain_depth <= MAX_CHAIN_DEPTH:
        raise ValidationFailedError(
            f"event chain depth {chain_depth} exceeds {MAX_CHAIN_DEPTH}: a workflow that emits "
            "events which trigger it again is looping; break the chain with a condition"
        )


async def publish_in(
    conn: AsyncConnection,
    event: CustomerEvent,
    *,
    schedule_at: datetime | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    chain_depth: int = 0,
) -> PublishResult:
    """Queue `event` in the caller's open transaction; visible to workers once it commits."""
    _check_options(schedule_at, max_retries, chain_depth)
    await check_event_type(conn, event.tenant_id, event.event_type)
    now = datetime.now(UTC)
    row = queue_row(event, schedule_at or now, max_retries, chain_depth, now)
    dialect = conn.dialect.name
    inserted = (await conn.execute(_insert_ignoring_duplicates(dialect, row))).scalar()
    if inserted is None:
        existing = (
            await conn.execute(
                sa.select(event_queue.c.id).where(
                    event_queue.c.tenant_id == event.tenant_id,
                    event_queue.c.event_id == event.event_id,
                )
            )
        ).scalar_one()
        return PublishResult(queue_id=existing, accepted=False)
    return PublishResult(queue_id=inserted, accepted=True)


async def publish(
    target: Database | AsyncConnection,
    event: CustomerEvent,
    *,
    schedule_at: datetime | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    chain_depth: int = 0,
) -> PublishResult:
    """Validate, deduplicate on (tenant, eventId) and queue `event`.

    With a Database the event is committed before this returns. With an AsyncConnection
    it joins the caller's transaction and is visible only if the caller commits.
    `schedule_at` (aware) delays it; `chain_depth` counts workflow-emitted ancestors.
    Raises ValidationFailedError for an unknown event type, a naive `schedule_at`, or a
    chain deeper than MAX_CHAIN_DEPTH; NotFoundError for an unknown tenant.
    """
    if isinstance(target, AsyncConnection):
        return await publish_in(
            target, event, schedule_at=schedule_at, max_retries=max_retries, chain_depth=chain_depth
        )
    async with target.transaction() as conn:
        result = await publish_in(
            conn, event, schedule_at=schedule_at, max_retries=max_retries, chain_depth=chain_depth
        )
    if result.accepted:
        notify_local()
    return result
