"""Retention strategy: a ranked playbook from a health assessment's churn drivers.

Each driver that pushes towards churn maps to the plays that address it (a silent customer
gets a check-in campaign and a call; a complaining one gets an account-manager task to fix
the issue first). Plays are ranked by their driver's contribution, one per action type, and
their due offsets tighten with the churn probability. The shape (action_type, channel,
due_offset such as "+3 days", message_hint) is what the churn-prevention workflow consumes.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.analytics.health import HealthAssessment
from shared.analytics.health_features import HealthFactor
from shared.analytics.models import AnalysisResult

__all__ = ["RetentionAction", "RetentionPlan", "generate_retention_strategy"]

ActionType = Literal["retention_campaign", "follow_up_call", "offer", "account_manager_task"]
Channel = Literal["email", "sms", "phone", "task"]
Urgency = Literal["routine", "soon", "urgent"]


class RetentionAction(BaseModel):
    model_config = ConfigDict(frozen=True)

    rank: int = Field(ge=1)
    action_type: ActionType
    channel: Channel
    due_offset: str = Field(description='when, relative to now, e.g. "+3 days"')
    due_in_days: int = Field(ge=0)
    reason: str
    message_hint: str = Field(description="what the message or call should say")
    driver: HealthFactor


class RetentionPlan(AnalysisResult):
    customer_id: str
    churn_probability: float
    urgency: Urgency
    actions: list[RetentionAction]
    value_at_risk: float | None = Field(
        default=None, description="customer value x churn probability, when a value was given"
    )


# driver -> plays (action, channel, base due in days, message hint), most important first.
_PLAYS: dict[HealthFactor, list[tuple[ActionType, Channel, int, str]]] = {
    "recency": [
        ("retention_campaign", "email", 1, "personal check-in: we have not seen you lately"),
        ("follow_up_call", "phone", 3, "ask how things are going and what they need next"),
    ],
    "frequency": [
        ("retention_campaign", "email", 2, "recap the value delivered and what is new"),
        ("follow_up_call", "phone", 5, "book the next appointment or review"),
    ],
    "spend_trend": [
        ("offer", "email", 2, "loyalty discount or bundle on what they used to buy"),
        ("account_manager_task", "task", 3, "review the account: why did spend drop?"),
    ],
    "support_load": [
        ("account_manager_task", "task", 1, "resolve the open tickets; own the fix end to end"),
        ("follow_up_call", "phone", 2, "apologise, confirm the fix, ask what else went wrong"),
    ],
    "sentiment": [
        ("follow_up_call", "phone", 1, "manager call about their experience; listen first"),
        ("offer", "email", 3, "goodwill gesture after the call, not before"),
    ],
    "payment_gap": [
        ("account_manager_task", "task", 2, "check billing: failed card, invoice dispute?"),
        ("offer", "email", 3, "flexible payment plan or pause instead of cancelling"),
    ],
}
MIN_ACTIONABLE_RISK = 0.25
_URGENCY_FACTOR: dict[Urgency, float] = {"urgent": 0.5, "soon": 1.0, "routine": 2.0}


def _urgency(probability: float) -> Urgency:
    return "urgent" if probability >= 0.7 else "soon" if probability >= 0.4 else "routine"


def _offset(days: int) -> str:
    return f"+{days} day" if days == 1 else f"+{days} days"


def generate_retention_strategy(
    assessment: HealthAssessment, *, customer_value: float | None = None, max_actions: int = 4
) -> RetentionPlan:
    """A ranked playbook for one customer; empty when no factor is outside its healthy range
    (risk >= 0.25) while pushing towards churn."""
    urgency = _urgency(assessment.churn_probability)
    # A factor in its healthy range is not worth a play even if it nudges the score.
    pushing = [
        d
        for d in assessment.drivers
        if d.contribution > 0 and (d.risk is None or d.risk >= MIN_ACTIONABLE_RISK)
    ]
    actions: list[RetentionAction] = []
    used: set[ActionType] = set()
    for driver in pushing:
        for action_type, channel, days, hint in _PLAYS[driver.factor]:
            if action_type in used or len(actions) >= max_actions:
                continue
            used.add(action_type)
            due = max(0, math.ceil(days * _URGENCY_FACTOR[urgency]))
            actions.append(
                RetentionAction(
                    rank=len(actions) + 1,
                    action_type=action_type,
                    channel=channel,
                    due_offset=_offset(due),
                    due_in_days=due,
                    reason=f"{driver.factor} drives churn risk: {driver.evidence}",
                    message_hint=hint,
                    driver=driver.factor,
                )
            )
    value_at_risk = (
        None if customer_value is None else round(customer_value * assessment.churn_probability, 2)
    )
    if actions:
        explanation = (
            f"{urgency.capitalize()} plan for {assessment.customer_id} (churn probability "
            f"{assessment.churn_probability:.0%}): "
            + "; ".join(f"{a.rank}. {a.action_type} {a.due_offset}" for a in actions)
            + "."
        )
    else:
        explanation = f"{assessment.customer_id} shows no churn driver; no action needed."
    if value_at_risk is not None:
        explanation += f" Value at risk: {value_at_risk:.2f}."
    return RetentionPlan(
        customer_id=assessment.customer_id,
        churn_probability=assessment.churn_probability,
        urgency=urgency,
        actions=actions,
        value_at_risk=value_at_risk,
        method=(
            "rule-based playbook: each churn driver (ranked by contribution) maps to its plays; "
            "one play per action type; due offsets x0.5 when churn >= 70%, x2 below 40%; "
            f"drivers from: {assessment.method}"
        ),
        inputs_used=[d.factor for d in pushing],
        confidence=assessment.confidence,
        explanation=explanation,
    )
