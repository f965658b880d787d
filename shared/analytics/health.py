"""Customer health (0-100) and churn probability, with the drivers ranked.

Two methods, and every result says which one it used:

- Prior weights (default): health = 100 x (1 - weighted mean risk) over the features that
  have data (weights in PRIOR_WEIGHTS; see `health_features` for each risk's scale). The
  churn probability is the logistic map 1 / (1 + exp(-6 (risk - 0.5))): a documented prior,
  not calibrated on the tenant's data. A driver's contribution is the health points it costs.
- Logistic regression: with at least MIN_PER_CLASS churned and MIN_PER_CLASS retained
  labelled accounts, `fit_churn_model` fits scikit-learn's LogisticRegression on the same
  six risks and reports its 5-fold cross-validated AUC. Health = 100 x (1 - p). A driver's
  contribution is its coefficient x (risk - training mean), in log-odds of churn.

`score_health_batch` scores many accounts at once with numpy (100k in well under a second).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from shared.analytics._scientific import FloatArray, fit_logistic
from shared.analytics.health_features import (
    HEALTH_FACTORS,
    HealthColumns,
    HealthFactor,
    HealthFeatures,
    risk_matrix,
)
from shared.analytics.models import AnalysisResult, confidence_from_share
from shared.errors import ValidationFailedError

__all__ = [
    "MIN_PER_CLASS",
    "PRIOR_WEIGHTS",
    "ChurnDriver",
    "ChurnModel",
    "HealthAssessment",
    "HealthBatchScores",
    "fit_churn_model",
    "score_health",
    "score_health_batch",
]

MIN_PER_CLASS = 30
PRIOR_SLOPE = 6.0
# Why: silence and falling spend are the earliest churn signs in service businesses; complaints
# and late payments follow; review sentiment is sparse, so it weighs least.
PRIOR_WEIGHTS: dict[HealthFactor, float] = {
    "recency": 0.25,
    "frequency": 0.15,
    "spend_trend": 0.20,
    "support_load": 0.15,
    "sentiment": 0.10,
    "payment_gap": 0.15,
}
RiskLevel = Literal["low", "medium", "high"]


class ChurnModel(BaseModel):
    """A logistic churn model fitted on one tenant's labelled accounts."""

    model_config = ConfigDict(frozen=True)

    coefficients: dict[HealthFactor, float]
    intercept: float
    feature_means: dict[HealthFactor, float] = Field(description="imputes missing features")
    cv_auc: float = Field(description="mean ROC AUC over the cross-validation folds")
    folds: int
    n_churned: int
    n_retained: int


class ChurnDriver(BaseModel):
    model_config = ConfigDict(frozen=True)

    factor: HealthFactor
    risk: float | None = Field(description="0 healthy .. 1 alarming; None without data")
    contribution: float = Field(description="how much this factor pushes towards churn")
    unit: Literal["health points", "log-odds"]
    evidence: str


class HealthAssessment(AnalysisResult):
    customer_id: str
    health_score: float = Field(ge=0.0, le=100.0)
    churn_probability: float = Field(ge=0.0, le=1.0)
    risk_level: RiskLevel
    drivers: list[ChurnDriver] = Field(description="largest push towards churn first")


@dataclass(frozen=True)
class HealthBatchScores:
    health_score: FloatArray
    churn_probability: FloatArray
    top_driver: npt.NDArray[np.int_]  # index into HEALTH_FACTORS

    def top_driver_names(self) -> list[HealthFactor]:
        return [HEALTH_FACTORS[i] for i in self.top_driver]


def _prior(risks: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    weights = np.array([PRIOR_WEIGHTS[f] for f in HEALTH_FACTORS])
    available = ~np.isnan(risks)
    weighted = np.where(available, risks, 0.0) * weights
    weight_sum = (available * weights).sum(axis=1)
    safe_sum = np.where(weight_sum > 0, weight_sum, 1.0)
    combined = np.where(weight_sum > 0, weighted.sum(axis=1) / safe_sum, 0.5)
    points_lost = 100.0 * weighted / safe_sum[:, None]
    probability = 1.0 / (1.0 + np.exp(-PRIOR_SLOPE * (combined - 0.5)))
    return 100.0 * (1.0 - combined), probability, points_lost


def _logistic(risks: FloatArray, model: ChurnModel) -> tuple[FloatArray, FloatArray, FloatArray]:
    means = np.array([model.feature_means[f] for f in HEALTH_FACTORS])
    coef = np.array([model.coefficients[f] for f in HEALTH_FACTORS])
    filled = np.where(np.isnan(risks), means, risks)
    probability = 1.0 / (1.0 + np.exp(-(model.intercept + filled @ coef)))
    return 100.0 * (1.0 - probability), probability, coef * (filled - means)


def score_health_batch(
    columns: HealthColumns, model: ChurnModel | None = None
) -> HealthBatchScores:
    """Vectorised health scores and churn probabilities for many accounts."""
    risks = risk_matrix(columns)
    health, probability, contributions = _prior(risks) if model is None else _logistic(risks, model)
    return HealthBatchScores(
        health_score=health,
        churn_probability=probability,
        top_driver=np.argmax(contributions, axis=1),
    )


def _evidence(factor: HealthFactor, f: HealthFeatures) -> str:
    match factor:
        case "recency":
            days = f.days_since_last_activity
            return "no recorded activity" if days is None else f"last touch {days:.0f} days ago"
        case "frequency":
            return f"{f.activities_last_90_days} touches in the last 90 days"
        case "spend_trend":
            return (
                f"spend {f.spend_last_90_days:.2f} in the last 90 days vs "
                f"{f.spend_previous_90_days:.2f} in the 90 before"
            )
        case "support_load":
            return f"{f.complaints_last_90_days} support tickets/complaints in 90 days"
        case "sentiment":
            s = f.mean_review_sentiment
            return "no reviews" if s is None else f"mean review sentiment {s:+.2f}"
        case "payment_gap":
            if f.days_since_last_payment is None or f.typical_days_between_payments is None:
                return "too few payments to know the usual interval"
            return (
                f"last payment {f.days_since_last_payment:.0f} days ago; usually every "
                f"{f.typical_days_between_payments:.0f} days"
            )


def _risk_level(probability: float) -> RiskLevel:
    return "high" if probability >= 0.7 else "medium" if probability >= 0.4 else "low"


def score_health(features: HealthFeatures, model: ChurnModel | None = None) -> HealthAssessment:
    """Health and churn of one account; `model` from `fit_churn_model`, else prior weights."""
    columns = HealthColumns.from_features([features])
    risks = risk_matrix(columns)[0]
    health, probability, contributions = (
        _prior(risks[None, :]) if model is None else _logistic(risks[None, :], model)
    )
    unit: Literal["health points", "log-odds"] = "health points" if model is None else "log-odds"
    drivers = sorted(
        (
            ChurnDriver(
                factor=factor,
                risk=None if np.isnan(risks[i]) else round(float(risks[i]), 4),
                contribution=round(float(contributions[0, i]), 4),
                unit=unit,
                evidence=_evidence(factor, features),
            )
            for i, factor in enumerate(HEALTH_FACTORS)
        ),
        key=lambda d: -d.contribution,
    )
    known: list[HealthFactor] = [
        f for f, r in zip(HEALTH_FACTORS, risks, strict=True) if not np.isnan(r)
    ]
    p = float(probability[0])
    if model is None:
        method = (
            "documented prior weights "
            + ", ".join(f"{f} {w:.2f}" for f, w in PRIOR_WEIGHTS.items())
            + f" over 0-1 risks; churn probability = logistic(6 x (risk - 0.5)), "
            f"not fitted (fewer than {MIN_PER_CLASS} churned and retained labelled accounts)"
        )
        confidence = confidence_from_share(
            sum(PRIOR_WEIGHTS[f] for f in known), high=0.85, medium=0.6
        )
    else:
        method = (
            f"logistic regression fitted on {model.n_churned} churned and {model.n_retained} "
            f"retained accounts; {model.folds}-fold cross-validated AUC {model.cv_auc:.2f}"
        )
        confidence = "high" if model.cv_auc >= 0.8 else "medium" if model.cv_auc >= 0.7 else "low"
    top = [d for d in drivers if d.contribution > 0][:2]
    return HealthAssessment(
        customer_id=features.customer_id,
        health_score=round(float(np.clip(health[0], 0.0, 100.0)), 1),
        churn_probability=round(p, 4),
        risk_level=_risk_level(p),
        drivers=drivers,
        method=method,
        inputs_used=list[str](known),
        confidence=confidence,
        explanation=(
            f"Health {float(health[0]):.0f}/100, churn probability {p:.0%} ({_risk_level(p)} "
            f"risk). Main drivers: {'; '.join(d.evidence for d in top) or 'none'}."
        ),
    )


def fit_churn_model(
    features: Sequence[HealthFeatures], churned: Sequence[bool], *, folds: int = 5
) -> ChurnModel:
    """Fit logistic regression on labelled accounts (True = churned).

    Raises ValidationFailedError with fewer than MIN_PER_CLASS accounts in either class;
    callers then use the prior weights (score_health with model=None).
    """
    if len(features) != len(churned):
        raise ValidationFailedError("features and churned labels must have the same length")
    labels = np.array(churned, dtype=np.int_)
    n_churned = int(labels.sum())
    n_retained = len(labels) - n_churned
    if min(n_churned, n_retained) < MIN_PER_CLASS:
        raise ValidationFailedError(
            f"a fitted churn model needs at least {MIN_PER_CLASS} churned and {MIN_PER_CLASS} "
            f"retained accounts; got {n_churned} churned, {n_retained} retained. "
            "Use the prior weights until there is more labelled history."
        )
    risks = risk_matrix(HealthColumns.from_features(features))
    # A factor nobody has data on imputes to 0.5 (neutral) and then carries no signal.
    counts = (~np.isnan(risks)).sum(axis=0)
    means = np.where(counts > 0, np.nansum(risks, axis=0) / np.maximum(counts, 1), 0.5)
    filled = np.where(np.isnan(risks), means, risks)
    fit = fit_logistic(filled, labels, folds=folds)
    return ChurnModel(
        coefficients={f: float(c) for f, c in zip(HEALTH_FACTORS, fit.coefficients, strict=True)},
        intercept=fit.intercept,
        feature_means={f: float(m) for f, m in zip(HEALTH_FACTORS, means, strict=True)},
        cv_auc=fit.cv_auc,
        folds=fit.folds,
        n_churned=n_churned,
        n_retained=n_retained,
    )
