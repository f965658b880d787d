"""Lead qualification: a 0-100 score, a grade, each factor's contribution and the next step.

Each factor becomes a sub-score in 0..1; the score is 100 x the weighted mean of the
sub-scores (weights from `lead_weights`). A factor with no data (no reviews to read, no
target industries configured) counts as 0.5, neutral, and lowers the confidence instead of
the score. `score_leads_batch` is the same formula over numpy columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from shared.analytics._scientific import FloatArray
from shared.analytics.lead_weights import (
    LEAD_FACTORS,
    LeadFactor,
    LeadScoringConfig,
    LeadWeights,
    normalize_industry,
)
from shared.analytics.models import (
    AnalysisResult,
    BusinessProfile,
    confidence_from_share,
    resolve_as_of,
)
from shared.analytics.sentiment import compound_score

__all__ = [
    "FactorContribution",
    "LeadColumns",
    "LeadQualification",
    "grade_for",
    "qualify_lead",
    "score_leads_batch",
]

MODEL_VERSION = "lead-v1"
Grade = Literal["A", "B", "C", "D"]
GRADE_FLOORS: tuple[tuple[Grade, float], ...] = (("A", 80.0), ("B", 65.0), ("C", 45.0))
NEUTRAL = 0.5
VELOCITY_WINDOW = timedelta(days=90)


class FactorContribution(BaseModel):
    model_config = ConfigDict(frozen=True)

    factor: LeadFactor
    weight: float = Field(description="share of the total weight, 0..1")
    value: float = Field(description="sub-score, 0 (worst) to 1 (best)")
    points: float = Field(description="points this factor adds to the 0-100 score")
    available: bool = Field(description="False when data was missing and 0.5 was assumed")
    evidence: str


class LeadQualification(AnalysisResult):
    score: float = Field(ge=0.0, le=100.0)
    grade: Grade
    factors: list[FactorContribution] = Field(description="largest contribution first")
    recommended_next_step: str
    talking_points: list[str]
    model_version: str = MODEL_VERSION


@dataclass(frozen=True)
class LeadColumns:
    """One entry per lead; NaN means unknown (scored neutral)."""

    rating: FloatArray
    review_count: FloatArray
    reviews_last_90_days: FloatArray
    has_website: npt.NDArray[np.bool_]
    has_hours: npt.NDArray[np.bool_]
    photos_count: FloatArray
    mean_sentiment: FloatArray
    industry_fit: FloatArray
    location_fit: FloatArray


def _subscores(c: LeadColumns, config: LeadScoringConfig) -> dict[LeadFactor, FloatArray]:
    """Sub-scores in 0..1 with NaN where the data are missing."""
    saturation = np.log1p(config.review_volume_saturation)
    per_month = c.reviews_last_90_days / 3.0
    return {
        "rating": (c.rating - 1.0) / 4.0,
        "review_volume": np.minimum(1.0, np.log1p(c.review_count) / saturation),
        "review_velocity": np.minimum(1.0, per_month / config.monthly_review_target),
        "website": c.has_website.astype(np.float64),
        "hours": c.has_hours.astype(np.float64),
        "photos": np.minimum(1.0, np.log1p(c.photos_count) / np.log1p(config.photo_saturation)),
        "sentiment": (c.mean_sentiment + 1.0) / 2.0,
        "industry_fit": c.industry_fit,
        "location_fit": c.location_fit,
    }


def score_leads_batch(
    columns: LeadColumns, weights: LeadWeights, config: LeadScoringConfig | None = None
) -> FloatArray:
    """0-100 lead scores for many leads of one weight set (e.g. one industry) at once."""
    subscores = _subscores(columns, config or LeadScoringConfig())
    shares = weights.shares()
    total = np.zeros_like(columns.rating)
    for factor in LEAD_FACTORS:
        sub = subscores[factor]
        total += shares[factor] * np.where(np.isnan(sub), NEUTRAL, sub)
    return np.clip(100.0 * total, 0.0, 100.0)


def grade_for(score: float) -> Grade:
    for grade, floor in GRADE_FLOORS:
        if score >= floor:
            return grade
    return "D"


def _matches(value: str | None, targets: list[str]) -> float:
    if not targets:
        return float("nan")
    if value is None:
        return 0.0
    return 1.0 if value.strip().lower() in {t.strip().lower() for t in targets} else 0.0


def _columns_for(
    business: BusinessProfile, config: LeadScoringConfig, as_of: datetime
) -> LeadColumns:
    reviews = business.reviews
    recent = sum(1 for r in reviews if as_of - VELOCITY_WINDOW <= r.reviewed_at <= as_of)
    texts = [r.text for r in reviews if r.text.strip()]
    target_industries = [normalize_industry(i) or "" for i in config.target_industries]
    location = max(
        np.nan_to_num(_matches(business.city, config.target_cities), nan=-1.0),
        np.nan_to_num(_matches(business.region, config.target_regions), nan=-1.0),
    )
    nan = float("nan")
    return LeadColumns(
        rating=np.array([business.rating if business.rating is not None else nan]),
        review_count=np.array([float(business.review_count)]),
        # No review list: velocity unknown, unless the business has no reviews at all.
        reviews_last_90_days=np.array(
            [float(recent) if reviews or business.review_count == 0 else nan]
        ),
        has_website=np.array([business.has_website]),
        has_hours=np.array([business.has_hours]),
        photos_count=np.array([float(business.photos_count)]),
        mean_sentiment=np.array([np.mean([compound_score(t) for t in texts]) if texts else nan]),
        industry_fit=np.array([_matches(normalize_industry(business.industry), target_industries)]),
        location_fit=np.array([nan if location < 0 else location]),
    )


def _evidence(business: BusinessProfile, c: LeadColumns) -> dict[LeadFactor, str]:
    return {
        "rating": f"rating {business.rating}" if business.rating else "no rating",
        "review_volume": f"{business.review_count} reviews",
        "review_velocity": f"{c.reviews_last_90_days[0]:.0f} reviews in the last 90 days",
        "website": "has a website" if business.has_website else "no website",
        "hours": "opening hours listed" if business.has_hours else "no opening hours listed",
        "photos": f"{business.photos_count} photos",
        "sentiment": f"mean review sentiment {c.mean_sentiment[0]:+.2f}",
        "industry_fit": f"industry {business.industry or 'unknown'}",
        "location_fit": f"located in {business.city or business.region or 'unknown'}",
    }


def _talking_points(business: BusinessProfile, sub: dict[LeadFactor, float]) -> list[str]:
    points: list[str] = []
    if not business.has_website:
        points.append("no website: lead with a website offer")
    if business.rating is not None and business.rating < 4.0:
        points.append(f"rating {business.rating}: reputation management")
    if business.review_count < 20:
        points.append(f"only {business.review_count} reviews: review-generation campaign")
    if not business.has_hours or business.photos_count < 5:
        points.append("incomplete Google profile (hours/photos): profile optimisation")
    if not math.isnan(sub["sentiment"]) and sub["sentiment"] < 0.5:
        points.append("reviews lean negative: ask about customer-experience problems")
    return points


_NEXT_STEPS: dict[Grade, str] = {
    "A": "Call the owner within 2 business days; create a ClickUp task for the account owner.",
    "B": "Send a personalised email now and follow up with a call in 3 days.",
    "C": "Add to a nurture email sequence and re-score in 30 days.",
    "D": "Do not contact now; re-check the profile in 90 days.",
}


def qualify_lead(
    business: BusinessProfile,
    config: LeadScoringConfig | None = None,
    *,
    as_of: datetime | None = None,
) -> LeadQualification:
    """Score one business as a lead. `as_of` (aware) anchors review velocity; default now."""
    config = config or LeadScoringConfig()
    when = resolve_as_of(as_of)
    weights, sources = config.weights_for(business.industry)
    shares = weights.shares()
    columns = _columns_for(business, config, when)
    raw: dict[LeadFactor, float] = {f: float(v[0]) for f, v in _subscores(columns, config).items()}
    value = {f: NEUTRAL if math.isnan(v) else v for f, v in raw.items()}
    evidence = _evidence(business, columns)
    score = float(score_leads_batch(columns, weights, config)[0])
    grade = grade_for(score)
    factors = sorted(
        (
            FactorContribution(
                factor=f,
                weight=shares[f],
                value=value[f],
                points=100.0 * shares[f] * value[f],
                available=not math.isnan(raw[f]),
                evidence=evidence[f],
            )
            for f in LEAD_FACTORS
        ),
        key=lambda c: -c.points,
    )
    known_share = sum(c.weight for c in factors if c.available)
    missing = [c.factor for c in factors if not c.available]
    lost = sorted(
        (c for c in factors if c.available), key=lambda c: -(c.weight - c.weight * c.value)
    )
    explanation = (
        f"{business.name} scores {score:.0f}/100 (grade {grade}). "
        f"Strongest: {', '.join(c.evidence for c in factors[:2])}. "
        f"Costing most points: {', '.join(c.evidence for c in lost[:2]) or 'nothing'}."
        + (f" Unknown (scored neutral): {', '.join(missing)}." if missing else "")
    )
    return LeadQualification(
        score=round(score, 1),
        grade=grade,
        factors=factors,
        recommended_next_step=_NEXT_STEPS[grade],
        talking_points=_talking_points(business, raw),
        method=(
            f"weighted sum of {len(LEAD_FACTORS)} factor sub-scores (0-1) x 100; weights from "
            f"{' + '.join(sources)}; missing factors scored 0.5; grades A>=80, B>=65, C>=45"
        ),
        inputs_used=[c.factor for c in factors if c.available],
        confidence=confidence_from_share(known_share),
        explanation=explanation,
    )
