from __future__ import annotations

import json

import pytest

from orchestration.events.models import CustomerEvent
from orchestration.platforms.clickup_webhooks import parse_delivery, verify_signature
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
