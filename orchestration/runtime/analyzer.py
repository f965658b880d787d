"""The step engine's `Analyzer`, over the analytics engine (`shared.analytics`).

`analyze` steps pass plain dicts (the event's data or an earlier step's output); each kind
picks the fields its model knows, so a CRM record or a webhook payload can be handed over
as it is. Bad input fails the step with the field and the reason.

Kinds: `qualify_lead` (lead score and grade; also answers `qualification_score`, the name the
spec's templates test), `sentiment` (reviews), `churn` / `health` (health score, churn
probability, drivers), `retention` (the health assessment plus a ranked playbook).
`ltv` needs every customer's purchase history to fit its models, which one step's data is
not: it fails with a pointer to the CRM server's `predict_customer_lifetime_value` tool.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from orchestration.workflows.errors import StepFailedError

__all__ = ["ANALYSIS_KINDS", "AnalyticsAnalyzer"]

ANALYSIS_KINDS = ("qualify_lead", "sentiment", "churn", "health", "retention", "ltv")

# Names CRM records and the spec's payloads use for the analytics models' fields.
_BUSINESS_ALIASES = {
    "business_name": "name",
    "company_name": "name",
    "gmb_rating": "rating",
    "gmb_review_count": "review_count",
    "google_rating": "rating",
}


def _known_fields(model: type[BaseModel], data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k in model.model_fields}


def _describe(kind: str, exc: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()
    )
    return f"analyze {kind}: the input does not fit ({problems})"


class AnalyticsAnalyzer:
    """Implements orchestration.workflows.services.Analyzer."""

    async def analyze(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        try:
            if kind in ("qualify_lead", "lead_score"):
                return self._qualify(data)
            if kind == "sentiment":
                return self._sentiment(data)
            if kind in ("churn", "health"):
                return self._health(data).model_dump(mode="json")
            if kind == "retention":
                return self._retention(data)
        except ValidationError as exc:
            raise StepFailedError(_describe(kind, exc)) from None
        if kind == "ltv":
            raise StepFailedError(
                "analyze ltv needs every customer's purchase history to fit its models; "
                "use a call_mcp_server step (server: crm, tool: predict_customer_lifetime_value)"
            )
        raise StepFailedError(
            f"analyze: unknown kind '{kind}'; known kinds: {', '.join(ANALYSIS_KINDS)}"
        )

    @staticmethod
    def _qualify(data: dict[str, Any]) -> dict[str, Any]:
        from shared.analytics.lead_scoring import qualify_lead
        from shared.analytics.models import BusinessProfile

        fields = dict(data)
        for alias, name in _BUSINESS_ALIASES.items():  # an explicit field wins over an alias
            if name not in fields and alias in data:
                fields[name] = data[alias]
        profile = BusinessProfile.model_validate(_known_fields(BusinessProfile, fields))
        result = qualify_lead(profile)
        return {
            **result.model_dump(mode="json"),
            "qualification_score": result.score,
            "lead_score": result.score,
        }

    @staticmethod
    def _sentiment(data: dict[str, Any]) -> dict[str, Any]:
        from shared.analytics.models import Review
        from shared.analytics.sentiment import analyze_sentiment

        raw: Any = data.get("reviews")
        if not isinstance(raw, list):
            raise StepFailedError("analyze sentiment needs 'reviews': a list of reviews")
        reviews = [
            Review.model_validate(_known_fields(Review, r))  # pyright: ignore[reportUnknownArgumentType]
            for r in raw  # pyright: ignore[reportUnknownVariableType]
            if isinstance(r, dict)
        ]
        return analyze_sentiment(reviews).model_dump(mode="json")

    @staticmethod
    def _health(data: dict[str, Any]) -> BaseModel:
        from shared.analytics.health import score_health
        from shared.analytics.health_features import HealthFeatures

        fields = _known_fields(HealthFeatures, data)
        customer = data.get("customer_id") or data.get("account_id") or data.get("id")
        if customer is not None:
            fields.setdefault("customer_id", str(customer))
        return score_health(HealthFeatures.model_validate(fields))

    def _retention(self, data: dict[str, Any]) -> dict[str, Any]:
        from shared.analytics.health import HealthAssessment
        from shared.analytics.retention import generate_retention_strategy

        assessment = self._health(data)
        assert isinstance(assessment, HealthAssessment)
        value = data.get("customer_value")
        plan = generate_retention_strategy(
            assessment, customer_value=float(value) if isinstance(value, int | float) else None
        )
        return {**plan.model_dump(mode="json"), "health": assessment.model_dump(mode="json")}
