from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from orchestration.events.models import CustomerEvent
from orchestration.platforms.clickup_webhooks import (
    crm_id_for_delivery,
    parse_delivery,
    verify_signature,
)
from orchestration.platforms.mappings import ExternalMapping, InMemoryMappingStore
from shared.errors import ValidationFailedError
from tests.fakes.clickup import ClickUpFake

HOOK = {"id": "wh-1", "secret": "WEBHOOKSECRET123"}
HISTORY = [
    {
        "id": "h1",
        "field": "status",
        "date": "1764150000000",
        "user": {"id": 9},
        "before": {"status": "to do"},
        "after": {"status": "won"},
    }
]


def test_signature_is_checked_against_the_raw_body_in_constant_time() -> None:
    body, headers = ClickUpFake().delivery(HOOK, "taskStatusUpdated", "t1", history_items=HISTORY)
    assert verify_signature(HOOK["secret"], body, headers["X-Signature"])
    assert not verify_signature(HOOK["secret"], body + b" ", headers["X-Signature"])
    assert not verify_signature("other", body, headers["X-Signature"])
    assert not verify_signature(HOOK["secret"], body, None)


def test_delivery_becomes_a_customer_event_with_a_redelivery_stable_id() -> None:
    body, _ = ClickUpFake().delivery(HOOK, "taskStatusUpdated", "t1", history_items=HISTORY)
    fields = parse_delivery(body, crm_id="acc-1")
    assert fields["eventData"]["new_status"] == "won"
    assert fields["eventData"]["changed_at_ms"] == 1764150000000
    again = parse_delivery(json.dumps(json.loads(body)).encode(), crm_id="acc-1")
    assert again["eventId"] == fields["eventId"]
    event = CustomerEvent.model_validate(
        {**fields, "tenantId": "00000000-0000-0000-0000-000000000001"}
    )
    assert event.event_type == "clickup_task_status_updated" and event.source == "clickup"


def test_bodies_that_are_not_deliveries_are_refused_with_the_reason() -> None:
    with pytest.raises(ValidationFailedError, match="not JSON"):
        parse_delivery(b"{nope")
    with pytest.raises(ValidationFailedError, match="task_id"):
        parse_delivery(b'{"event": "taskUpdated"}')


def test_the_change_time_in_clickup_becomes_the_event_time() -> None:
    body, _ = ClickUpFake().delivery(HOOK, "taskStatusUpdated", "t1", history_items=HISTORY)
    event = CustomerEvent.model_validate({**parse_delivery(body), "tenantId": uuid.uuid4()})
    assert event.timestamp == datetime.fromtimestamp(1764150000, tz=UTC)
    nonsense = [{**HISTORY[0], "date": "12"}]  # not a plausible time: the arrival time stays
    body, _ = ClickUpFake().delivery(HOOK, "taskStatusUpdated", "t1", history_items=nonsense)
    assert "timestamp" not in parse_delivery(body)


async def test_a_delivery_names_the_crm_record_its_task_is_mapped_to() -> None:
    tenant = uuid.uuid4()
    mappings = InMemoryMappingStore()
    await mappings.put(ExternalMapping(tenant, "clickup", "accounts", "acc-9", "t1"))
    body, _ = ClickUpFake().delivery(HOOK, "taskStatusUpdated", "t1", history_items=HISTORY)
    assert await crm_id_for_delivery(mappings, tenant, body) == "acc-9"
    assert await crm_id_for_delivery(mappings, uuid.uuid4(), body) is None  # other tenant
    assert await crm_id_for_delivery(mappings, tenant, b"not json") is None
