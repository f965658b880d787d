"""Follow-up events the engine queues: emitted events, wait resumptions, schedule ticks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from orchestration.events.custom_types import SYSTEM_TYPES
from orchestration.events.models import CustomerEvent
from orchestration.events.publish import PublishResult, publish
from orchestration.wakeup import notify_local
from shared.db.database import Database

__all__ = [
    "INTERNAL_EVENT_TYPES",
    "RESUME_EVENT_TYPE",
    "RUN_EVENT_TYPE",
    "SCHEDULE_EVENT_TYPE",
    "QueuePublisher",
    "publish_follow_up",
]

RESUME_EVENT_TYPE = "workflow_resume"  # eventData: {execution_id, step}
SCHEDULE_EVENT_TYPE = "schedule_tick"  # eventData: {workflow_definition_id, tick}
RUN_EVENT_TYPE = "workflow_run"  # a manual or webhook run; eventData: the run's input
INTERNAL_EVENT_TYPES = frozenset({RESUME_EVENT_TYPE, SCHEDULE_EVENT_TYPE, RUN_EVENT_TYPE})


class QueuePublisher:
    """Publishes onto the event queue (orchestration.events.publish)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def __call__(
        self,
        event: CustomerEvent,
        *,
        schedule_at: datetime | None,
        chain_depth: int,
        conn: AsyncConnection | None = None,
    ) -> None:
        if conn is not None:
            await publish_follow_up(conn, event, schedule_at, chain_depth)
            return
        async with self.db.transaction() as own:
            await publish_follow_up(own, event, schedule_at, chain_depth)
        notify_local()  # a worker of this process may be idle-waiting; the event is due now


async def publish_follow_up(
    conn: AsyncConnection, event: CustomerEvent, schedule_at: datetime | None, chain_depth: int
) -> PublishResult:
    """Publish in the caller's transaction (publish() knows the engine's own event types)."""
    assert INTERNAL_EVENT_TYPES <= SYSTEM_TYPES  # the two lists must not drift apart
    return await publish(conn, event, schedule_at=schedule_at, chain_depth=chain_depth)
