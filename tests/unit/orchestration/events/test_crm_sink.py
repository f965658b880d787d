"""Which CRM changes become which lifecycle events (the pure mapping)."""

from __future__ import annotations

import uuid

import pytest

from orchestration.events.crm_sink import events_for_change
from shared.crm.changes import (
    ActivityLogged,
    CampaignCreated,
    LeadQualificationRecorded,
    LifecycleStageChanged,
)
from shared.crm.repository import CrmChange

TENANT = uuid.uuid4()
ACCOUNT = uuid.uuid4()


def _stage(new: str) -> LifecycleStageChanged:
    return LifecycleStageChanged(account_id=ACCOUNT, previous_stage="lead", new_stage=new)


def _campaign(kind: str) -> CampaignCreated:
    return CampaignCreated(
        campaign_id=uuid.uuid4(),
        name="c",
        campaign_kind=kind,
        channel="email",
        created_by="agent",
        account_id=ACCOUNT,
    )


def _qualification(score: float) -> LeadQualificationRecorded:
    return LeadQualificationRecorded(
        account_id=ACCOUNT,
        qualification_id=uuid.uuid4(),
        score=score,
        grade="A",
        model_version="v1",
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_stage("qualified"), ["lead_qualified"]),
        (_stage("customer"), ["customer_onboarded"]),
        (_stage("at_risk"), ["churn_risk_detected"]),
        (_stage("lead"), []),
        (_stage("churned"), []),
        (_campaign("retention"), ["retention_campaign_triggered"]),
        (_campaign("acquisition"), []),
        (_qualification(81), ["lead_qualified"]),
        (_qualification(80), []),
        (
            ActivityLogged(
                account_id=ACCOUNT,
                activity_id=uuid.uuid4(),
                activity_kind="call",
                subject="s",
                created_by="agent",
            ),
            [],
        ),
    ],
)
def test_change_to_events(change: CrmChange, expected: list[str]) -> None:
    events = events_for_change(change, TENANT, qualification_threshold=80)
    assert [e.event_type for e in events] == expected
    for event in events:
        assert event.source.value == "crm"
        assert event.tenant_id == TENANT
        assert event.customer_id == str(ACCOUNT)
        assert event.event_data["account_id"] == str(ACCOUNT)


def test_at_risk_is_high_priority() -> None:
    [event] = events_for_change(_stage("at_risk"), TENANT, qualification_threshold=80)
    assert event.priority.value == "high"


def test_a_repeated_qualification_record_has_a_stable_event_id() -> None:
    change = _qualification(95)
    first = events_for_change(change, TENANT, qualification_threshold=80)
    again = events_for_change(change, TENANT, qualification_threshold=80)
    assert first[0].event_id == again[0].event_id
