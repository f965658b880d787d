"""Starting a named workflow directly: manual runs (CLI, API, agents) and webhooks.

The run goes through the queue like any event (durable, retried, deduplicated): a
`workflow_run` event naming the definition in `workflow_triggers`. Its data is what the
steps see as `event.*`.
"""

from __future__ import annotations

import uuid
from typing import Any

from orchestration.events.models import CustomerEvent, EventPriority, EventSource
from orchestration.events.publish import PublishResult
from orchestration.workflows.publishing import RUN_EVENT_TYPE, publish_follow_up
from orchestration.workflows.store import get_definition
from shared.db.database import Database
from shared.errors import ValidationFailedError

__all__ = ["trigger_workflow"]


async def trigger_workflow(
    db: Database,
    tenant_id: uuid.UUID,
    name_or_id: str,
    data: dict[str, Any] | None = None,
    *,
    event_id: str | None = None,
    customer_id: str | None = None,
    source: EventSource = EventSource.CRM,
    priority: EventPriority | None = None,
) -> PublishResult:
    """Queue a run of an active definition. `event_id` (e.g. a webhook delivery id) makes a
    repeat a duplicate. Raises NotFoundError for an unknown name, ValidationFailedError for
    a paused workflow."""
    stored = await get_definition(db, tenant_id, name_or_id)
    if not stored.definition.is_active:
        raise ValidationFailedError(
            f"workflow '{stored.name}' is paused; `switchboard workflows enable` activates it"
        )
    event = CustomerEvent(
        eventId=event_id or f"run:{uuid.uuid4()}",
        tenantId=tenant_id,
        customerId=customer_id,
        eventType=RUN_EVENT_TYPE,
        eventData=data or {},
        source=source,
        priority=priority or EventPriority.HIGH,
        workflow_triggers=[str(stored.id)],
    )
    async with db.transaction() as conn:
        return await publish_follow_up(conn, event, None, 0)
