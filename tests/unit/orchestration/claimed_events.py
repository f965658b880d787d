"""A ClaimedEvent for unit tests: a first delivery, every field settable."""

from __future__ import annotations

import uuid
from typing import Any

from orchestration.queue.types import ClaimedEvent
from shared.db.types import utcnow


def claimed_event(**fields: Any) -> ClaimedEvent:
    now = utcnow()
    values: dict[str, Any] = {
        "id": uuid.uuid4(),
        "tenant_id": uuid.uuid4(),
        "event_id": "e1",
        "event_type": "deal_closed",
        "event_data": {},
        "event_source": "crm",
        "customer_id": None,
        "priority": 5,
        "attempts": 1,
        "max_retries": 3,
        "chain_depth": 0,
        "workflow_triggers": None,
        "created_at": now,
        "scheduled_for": now,
    }
    return ClaimedEvent(**{**values, **fields})
