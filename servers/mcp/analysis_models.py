"""What the analysis tools return: the engine's result models, plus where the figures came
from (which account, whether they were stored) and the size-budget fields.

Text that third parties wrote (business and competitor names, review phrases, hiring
mentions) can reach a result through the engine's explanations and evidence; `fence_fields`
wraps those fields in the response's fence, so the agent reads them as data.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field

from servers.mcp.common.budget import Truncatable
from servers.mcp.common.fence import Fence
from shared.analytics.benchmarks import IndustryBenchmarks
from shared.analytics.clv import LifetimeValuePrediction
from shared.analytics.competitive import CompetitiveInsights
from shared.analytics.growth_signals import GrowthSignals
from shared.analytics.health import HealthAssessment
from shared.analytics.lead_scoring import LeadQualification
from shared.analytics.retention import RetentionPlan
from shared.analytics.sentiment import SentimentAnalysis

__all__ = [
    "AtRiskCustomer",
    "AtRiskCustomers",
    "BenchmarksOut",
    "CompetitiveOut",
    "GrowthSignalsOut",
    "HealthOut",
    "LeadQualificationOut",
    "LifetimeValueOut",
    "RetentionPlanOut",
    "SentimentOut",
    "fence_fields",
]

M = TypeVar("M", bound=BaseModel)


class _Subject(BaseModel):
    account_id: uuid.UUID | None = Field(
        default=None, description="The CRM account analysed; null for inline data"
    )


class LeadQualificationOut(LeadQualification, _Subject):
    stored: bool = Field(
        default=False, description="True: saved as the account's qualification and lead score"
    )
    qualification_id: uuid.UUID | None = None
    qualification_threshold: float | None = Field(
        default=None, description="Scores above this emit lead_qualified (when stored)"
    )


class SentimentOut(SentimentAnalysis, _Subject, Truncatable):
    pass


class GrowthSignalsOut(GrowthSignals, _Subject):
    pass


class CompetitiveOut(CompetitiveInsights, _Subject):
    competitor_ids: list[uuid.UUID] = Field(
        default_factory=list[uuid.UUID], description="CRM accounts used as competitors"
    )


class HealthOut(HealthAssessment, _Subject):
    stored: bool = False
    health_id: uuid.UUID | None = None
    churn_risk_threshold: float = Field(
        description="Stored scores at or over this churn probability emit churn_risk_detected"
    )
    over_threshold: bool


class RetentionPlanOut(RetentionPlan, _Subject):
    account_name: str | None = None
    health_score: float
    churn_risk_level: str


class AtRiskCustomer(BaseModel):
    account_id: uuid.UUID
    name: str | None = Field(description="Business name (untrusted text, fenced)")
    lifecycle_stage: str
    health_score: float
    churn_probability: float
    top_driver: str | None
    source: Literal["stored", "computed"] = Field(
        description="stored: the latest saved health score; computed: scored now"
    )
    computed_at: datetime | None = None


class AtRiskCustomers(Truncatable):
    threshold: float
    customers: list[AtRiskCustomer] = Field(description="Highest churn probability first")
    total_over_threshold: int
    stored_scores_used: int
    computed_now: int
    method: str
    explanation: str


class BenchmarksOut(IndustryBenchmarks):
    pass


class LifetimeValueOut(LifetimeValuePrediction, _Subject):
    fitted_at: datetime
    fit_customers: int
    cached_fit: bool = Field(description="True: the tenant's model fit was reused")


def fence_fields(model: M, fence: Fence, fields: Sequence[str]) -> M:
    """A copy with the named string fields (and strings in named list fields) fenced."""
    update: dict[str, Any] = {}
    for name in fields:
        value = getattr(model, name)
        if isinstance(value, str):
            update[name] = fence.wrap(value)
        elif isinstance(value, list):
            items: list[Any] = list(value)  # pyright: ignore[reportUnknownArgumentType]
            update[name] = [fence.wrap(v) if isinstance(v, str) else v for v in items]
    return model.model_copy(update=update)
