"""The spec's CustomerEvent: what every source (tool, webhook, CRM change, schedule) publishes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.unstorable import UNSTORABLE_REASON, first_unstorable, is_unstorable

__all__ = [
    "PRIORITY_TO_QUEUE",
    "CustomerEvent",
    "EventPriority",
    "EventSource",
    "StandardEventType",
]


class StandardEventType(StrEnum):
    PROSPECT_IDENTIFIED = "prospect_identified"
    LEAD_QUALIFIED = "lead_qualified"
    CUSTOMER_ONBOARDED = "customer_onboarded"
    CHURN_RISK_DETECTED = "churn_risk_detected"
    RETENTION_CAMPAIGN_TRIGGERED = "retention_campaign_triggered"
    DEAL_CLOSED = "deal_closed"


class EventSource(StrEnum):
    CRM = "crm"
    N8N = "n8n"
    MAKE = "make"
    CLICKUP = "clickup"
    APIFY = "apify"
    AI_ANALYSIS = "ai_analysis"


class EventPriority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


# The spec's event_queue.priority is an integer defaulting to 5; lower runs first.
PRIORITY_TO_QUEUE: dict[EventPriority, int] = {
    EventPriority.CRITICAL: 1,
    EventPriority.HIGH: 3,
    EventPriority.MEDIUM: 5,
    EventPriority.LOW: 7,
}

EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]{1,63}$"


def _utcnow() -> datetime:
    return datetime.now(UTC)


MAX_DATA_DEPTH = 32


def _storable(text: str, where: str) -> str:
    if is_unstorable(text):
        raise ValueError(f"{where} {UNSTORABLE_REASON}")
    return text


def _depth(value: Any) -> int:
    """How deeply `value` nests (iteratively: a hostile document must not recurse us)."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DATA_DEPTH:
            break
        if isinstance(item, dict):
            pending.extend((inner, depth + 1) for inner in cast("dict[Any, Any]", item).values())
        elif isinstance(item, list):
            pending.extend((inner, depth + 1) for inner in cast("list[Any]", item))
    return deepest


class CustomerEvent(BaseModel):
    """A customer lifecycle event. Field aliases are the spec's camelCase wire names.

    `event_type` is one of StandardEventType or a tenant-defined custom type; whether a
    custom type is allowed is checked at publish time against the tenant's configuration.
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    event_id: str = Field(
        default_factory=lambda: str(uuid.uuid4()),
        alias="eventId",
        min_length=1,
        max_length=200,
        description="Publisher's id; a repeat with the same id is accepted once",
    )
    tenant_id: uuid.UUID = Field(alias="tenantId")
    customer_id: str | None = Field(default=None, alias="customerId", max_length=200)
    event_type: str = Field(alias="eventType", pattern=EVENT_TYPE_PATTERN)
    event_data: dict[str, Any] = Field(default_factory=dict, alias="eventData")
    timestamp: datetime = Field(default_factory=_utcnow)
    source: EventSource = EventSource.CRM
    priority: EventPriority = EventPriority.MEDIUM
    workflow_triggers: list[str] | None = Field(default=None, max_length=50)

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
            raise ValueError("timestamp is outside the years 1 to 9999 in UTC") from None

    @field_validator("event_id", "customer_id")
    @classmethod
    def _storable_id(cls, value: str | None) -> str | None:
        return None if value is None else _storable(value, "the id")

    @field_validator("workflow_triggers")
    @classmethod
    def _storable_triggers(cls, value: list[str] | None) -> list[str] | None:
        for trigger in value or []:
            _storable(trigger, "workflow_triggers")
        return value

    @field_validator("event_data")
    @classmethod
    def _storable_data(cls, value: dict[str, Any]) -> dict[str, Any]:
        if _depth(value) > MAX_DATA_DEPTH:
            raise ValueError(f"eventData is nested deeper than {MAX_DATA_DEPTH} levels")
        where = first_unstorable(value, "eventData")
        if where is not None:
            raise ValueError(f"{where} {UNSTORABLE_REASON}")
        return value

    @property
    def queue_priority(self) -> int:
        return PRIORITY_TO_QUEUE[self.priority]
