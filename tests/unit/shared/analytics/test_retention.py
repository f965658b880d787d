"""Retention playbook: ranked by the churn drivers, shaped for the churn-prevention workflow."""

from __future__ import annotations

from shared.analytics.health import score_health
from shared.analytics.health_features import HealthFeatures
from shared.analytics.retention import generate_retention_strategy

HEALTHY = HealthFeatures(
    customer_id="acme",
    days_since_last_activity=2,
    activities_last_90_days=15,
    spend_last_90_days=900,
    spend_previous_90_days=800,
    mean_review_sentiment=0.7,
)


def test_complaints_lead_to_an_account_manager_task_first() -> None:
    complaining = HEALTHY.model_copy(
        update={"complaints_last_90_days": 9, "days_since_last_activity": 40}
    )
    plan = generate_retention_strategy(score_health(complaining))
    first = plan.actions[0]
    assert (first.action_type, first.channel, first.driver) == (
        "account_manager_task",
        "task",
        "support_load",
    )
    assert first.reason.startswith("support_load drives churn risk: 9 support tickets")
    assert [a.rank for a in plan.actions] == list(range(1, len(plan.actions) + 1))
    assert len({a.action_type for a in plan.actions}) == len(plan.actions)


def test_urgent_plans_have_tighter_due_dates() -> None:
    silent = HEALTHY.model_copy(
        update={
            "days_since_last_activity": 150,
            "activities_last_90_days": 0,
            "spend_last_90_days": 0,
        }
    )
    plan = generate_retention_strategy(score_health(silent), customer_value=5000)
    assert plan.urgency == "urgent"
    call = next(a for a in plan.actions if a.action_type == "follow_up_call")
    assert (call.due_offset, call.due_in_days) == ("+2 days", 2)  # 3 days, halved, rounded up
    assert plan.value_at_risk is not None and plan.value_at_risk > 3500
    assert "Value at risk" in plan.explanation


def test_a_healthy_customer_gets_no_actions() -> None:
    plan = generate_retention_strategy(score_health(HEALTHY))
    assert plan.actions == []
    assert plan.urgency == "routine"
    assert plan.explanation == "acme shows no churn driver; no action needed."
