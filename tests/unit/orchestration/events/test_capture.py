"""Which CRM row changes are events, with what ids and data (no database)."""

from __future__ import annotations

import uuid

from orchestration.events.capture import (
    events_for_account_change,
    events_for_deal_change,
    events_for_health_score,
)

TENANT = uuid.uuid4()
ACCOUNT = uuid.uuid4()


def _account(stage: str) -> dict[str, object]:
    return {"id": ACCOUNT, "tenant_id": TENANT, "name": "Bright Smile", "lifecycle_stage": stage}


def test_entering_a_mapped_stage_is_one_event_with_the_transition() -> None:
    [event] = events_for_account_change(_account("lead"), _account("qualified"))
    assert event.event_type == "lead_qualified"
    assert event.event_id == f"crm:account:{ACCOUNT}:stage:lead->qualified"
    assert event.customer_id == str(ACCOUNT)
    assert event.event_data["from_stage"] == "lead"
    assert event.source.value == "crm"


def test_new_prospect_is_prospect_identified() -> None:
    [event] = events_for_account_change(None, _account("prospect"))
    assert event.event_type == "prospect_identified"
    assert event.event_id.endswith(":stage:new->prospect")


def test_unchanged_or_unmapped_stage_is_no_event() -> None:
    assert events_for_account_change(_account("customer"), _account("customer")) == []
    assert events_for_account_change(_account("prospect"), _account("lead")) == []


def test_deal_becoming_won_is_deal_closed_once() -> None:
    deal = {"id": uuid.uuid4(), "tenant_id": TENANT, "account_id": ACCOUNT, "amount": 1200.0}
    [event] = events_for_deal_change({**deal, "stage": "negotiation"}, {**deal, "stage": "won"})
    assert (event.event_type, event.event_data["amount"]) == ("deal_closed", 1200.0)
    assert events_for_deal_change({**deal, "stage": "won"}, {**deal, "stage": "won"}) == []
    assert events_for_deal_change(None, {**deal, "stage": "lost"}) == []


def test_churn_probability_crossing_the_threshold_is_a_churn_risk() -> None:
    row = {"id": uuid.uuid4(), "tenant_id": TENANT, "account_id": ACCOUNT, "score": 35.0,
           "churn_probability": 0.8}  # fmt: skip
    [event] = events_for_health_score(0.4, row, threshold=0.7)
    assert event.event_type == "churn_risk_detected"
    assert event.event_id == f"crm:health:{row['id']}"  # the repository sink's id too
    assert event.event_data["previous_churn_probability"] == 0.4
    assert events_for_health_score(None, row, threshold=0.7) != []  # first score already high
    assert events_for_health_score(0.75, row, threshold=0.7) == []  # already at risk
    assert events_for_health_score(0.4, {**row, "churn_probability": 0.69}, threshold=0.7) == []
