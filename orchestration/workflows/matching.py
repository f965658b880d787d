"""Which active definitions an event starts.

An event naming workflows (`workflow_triggers`: manual runs, webhooks, schedule ticks)
starts exactly those, whatever their trigger type. Any other event starts every active
event-triggered definition listening for its type whose trigger condition holds.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orchestration.queue.types import ClaimedEvent
from orchestration.workflows.errors import ConditionError
from orchestration.workflows.run_plan import condition_of
from orchestration.workflows.scope import build_scope
from orchestration.workflows.store import StoredDefinition, load_active_definitions

__all__ = ["Match", "find_webhook_definition", "match_event"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Match:
    matched: list[StoredDefinition]
    # Definitions whose trigger condition could not be evaluated on this event's data.
    refused: list[tuple[str, str]]


def match_event(active: list[StoredDefinition], event: ClaimedEvent) -> Match:
    """Which of the tenant's `active` definitions `event` starts."""
    if event.workflow_triggers:
        wanted = set(event.workflow_triggers)
        return Match([d for d in active if d.name in wanted or str(d.id) in wanted], [])
    scope: dict[str, Any] | None = None
    matched: list[StoredDefinition] = []
    refused: list[tuple[str, str]] = []
    for stored in active:
        trigger = stored.definition.trigger
        if trigger.type != "event" or trigger.event_type != event.event_type:
            continue
        if trigger.condition is not None:
            if scope is None:
                scope = build_scope(event, {})
            try:
                if not condition_of(trigger.condition).evaluate(scope):
                    continue
            except ConditionError as exc:
                log.warning("trigger condition of %s on event %s: %s", stored.name, event.id, exc)
                refused.append((stored.name, str(exc)))
                continue
        matched.append(stored)
    return Match(matched, refused)


async def find_webhook_definition(
    conn: AsyncConnection, tenant_id: uuid.UUID, endpoint: str
) -> StoredDefinition | None:
    """The active webhook-triggered definition at `endpoint` (e.g. /crm/prospect/new)."""
    for stored in await load_active_definitions(conn, tenant_id, trigger_type="webhook"):
        if stored.definition.trigger.endpoint == endpoint:
            return stored
    return None
