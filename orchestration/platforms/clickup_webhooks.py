"""Inbound ClickUp webhooks: verify `X-Signature`, turn a delivery into event fields.

ClickUp signs each delivery with the webhook's secret: `X-Signature` is the hex
HMAC-SHA256 of the raw body. Deliveries can repeat or arrive late, so the event id is
derived from the delivery itself (the publisher deduplicates on it) and the time of the
change in ClickUp becomes the event's timestamp (its `occurred_at`): reconciliation
compares it, and the sync latency (ClickUp change -> CRM updated) is measured from it.

`crm_id_for_delivery` finds the CRM record the task stands for (`external_mappings`), so
the event names its customer and a workflow can update that record.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from orchestration.platforms.jsonshape import as_dict, dicts, text
from orchestration.platforms.mappings import MappingStore
from shared.errors import ValidationFailedError

__all__ = ["ClickUpDelivery", "crm_id_for_delivery", "parse_delivery", "verify_signature"]

MAX_BODY_BYTES = 1_000_000

ClickUpDelivery = dict[str, Any]


def verify_signature(secret: str, raw_body: bytes, signature: str | None) -> bool:
    """Constant-time check of `X-Signature` against the body; False when absent."""
    if not signature or not secret:
        return False
    expected = hmac.new(secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def parse_delivery(raw_body: bytes, *, crm_id: str | None = None) -> ClickUpDelivery:
    """Fields for a CustomerEvent (source "clickup") from a verified delivery.

    `crm_id` is the CRM account the task maps to (from `external_mappings`), when known.
    Raises ValidationFailedError for a body that is not a ClickUp delivery.
    """
    if len(raw_body) > MAX_BODY_BYTES:
        raise ValidationFailedError("ClickUp delivery larger than 1 MB refused")
    try:
        body = as_dict(json.loads(raw_body))
    except ValueError:
        raise ValidationFailedError("ClickUp delivery is not JSON") from None
    event = text(body.get("event"))
    task_id = text(body.get("task_id"))
    if not event or not task_id:
        raise ValidationFailedError("ClickUp delivery lacks 'event' or 'task_id'")
    history = dicts(body.get("history_items"))
    changes: list[dict[str, Any]] = []
    for item in history:
        changes.append(
            {
                "field": text(item.get("field")),
                "before": _status_text(item.get("before")),
                "after": _status_text(item.get("after")),
                "date": text(item.get("date")),  # Unix ms, as ClickUp sends it
                "user_id": text(as_dict(item.get("user")).get("id")),
            }
        )
    ids = ",".join(text(item.get("id")) or "" for item in history)
    # A redelivery carries the same history item ids: the same event id, accepted once.
    event_id = "clickup:" + hashlib.sha256(f"{event}:{task_id}:{ids}".encode()).hexdigest()[:32]
    status_change = next((c for c in changes if c["field"] == "status"), None)
    changed_at_ms = max(
        (int(c["date"]) for c in changes if c["date"] and c["date"].isdigit()), default=None
    )
    fields: ClickUpDelivery = {
        "eventId": event_id,
        "eventType": "clickup_" + _snake(event),
        "source": "clickup",
        "customerId": crm_id,
        "eventData": {
            "webhook_id": text(body.get("webhook_id")),
            "clickup_event": event,
            "task_id": task_id,
            "changes": changes,
            "new_status": status_change["after"] if status_change else None,
            "changed_at_ms": changed_at_ms,
        },
    }
    changed_at = _from_ms(changed_at_ms)
    if changed_at is not None:
        fields["timestamp"] = changed_at
    return fields


def _from_ms(value: int | None) -> datetime | None:
    """A history item's Unix-ms date; None when absent or not a plausible time."""
    if value is None:
        return None
    try:
        moment = datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment if moment.year >= 2000 else None


async def crm_id_for_delivery(
    mappings: MappingStore, tenant_id: uuid.UUID, raw_body: bytes
) -> str | None:
    """The CRM id mapped to the delivery's task, or None (unknown task, or a body that
    `parse_delivery` will refuse with the specific reason)."""
    try:
        task_id = text(as_dict(json.loads(raw_body)).get("task_id"))
    except ValueError:
        return None
    if not task_id:
        return None
    mapping = await mappings.by_external_id(tenant_id, "clickup", task_id)
    return mapping.crm_id if mapping is not None else None


def _status_text(value: object) -> str | None:
    status = as_dict(value)
    return text(status.get("status")) if status else text(value)


def _snake(name: str) -> str:
    out: list[str] = []
    for char in name:
        if char.isupper() and out:
            out.append("_")
        out.append(char.lower())
    return "".join(out)
