"""What trigger conditions, step conditions and `{{ }}` references see of an execution."""

from __future__ import annotations

import uuid
from typing import Any

from orchestration.queue.types import ClaimedEvent

__all__ = ["build_scope"]

_TENANT_TEXT_KEPT = 1024  # tenants whose id's text is kept; more start the cache afresh
_tenant_text: dict[uuid.UUID, str] = {}


def build_scope(event: ClaimedEvent, outputs: dict[str, Any]) -> dict[str, Any]:
    """What conditions and {{ }} see: the event's fields and every step output's fields at
    the top level (as the spec's `qualification_score > 80` reads), plus `event.*`,
    `steps.<key>.*`."""
    scope: dict[str, Any] = dict(event.event_data)
    for output in outputs.values():
        if isinstance(output, dict):
            scope.update(output)  # pyright: ignore[reportUnknownArgumentType]
    scope["event"] = {
        **event.event_data,
        "id": event.event_id,
        "type": event.event_type,
        "customer_id": event.customer_id,
        "source": event.event_source,
        "data": event.event_data,
    }
    scope["steps"] = outputs
    scope["tenant_id"] = _text_of(event.tenant_id)
    return scope


def _text_of(tenant_id: uuid.UUID) -> str:
    """str(tenant_id), made once per tenant (a UUID's str() costs more than the lookup)."""
    text = _tenant_text.get(tenant_id)
    if text is None:
        if len(_tenant_text) >= _TENANT_TEXT_KEPT:
            _tenant_text.clear()
        text = _tenant_text[tenant_id] = str(tenant_id)
    return text
