"""Lead-scoring weights: defaults per industry, merged with a tenant's overrides.

Weights are relative (they are normalised to sum to 1), so a tenant can say
`{"dentist": {"website": 30}}` without rebalancing the other factors. Order of precedence,
last wins: project defaults, the industry's defaults, the tenant's "*" overrides, the
tenant's overrides for the industry.
"""

from __future__ import annotations

import re
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "DEFAULT_INDUSTRY_WEIGHTS",
    "LEAD_FACTORS",
    "LeadFactor",
    "LeadScoringConfig",
    "LeadWeights",
    "normalize_industry",
]

LeadFactor = Literal[
    "rating",
    "review_volume",
    "review_velocity",
    "website",
    "hours",
    "photos",
    "sentiment",
    "industry_fit",
    "location_fit",
]
LEAD_FACTORS: tuple[LeadFactor, ...] = get_args(LeadFactor)
ALL_INDUSTRIES = "*"

Weight = float


class LeadWeights(BaseModel):
    """Relative importance of each factor; the defaults sum to 100 for readability."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rating: Weight = Field(default=20.0, ge=0.0)
    review_volume: Weight = Field(default=15.0, ge=0.0)
    review_velocity: Weight = Field(default=10.0, ge=0.0)
    website: Weight = Field(default=15.0, ge=0.0)
    hours: Weight = Field(default=5.0, ge=0.0)
    photos: Weight = Field(default=5.0, ge=0.0)
    sentiment: Weight = Field(default=10.0, ge=0.0)
    industry_fit: Weight = Field(default=10.0, ge=0.0)
    location_fit: Weight = Field(default=10.0, ge=0.0)

    @model_validator(mode="after")
    def _not_all_zero(self) -> LeadWeights:
        if self.total() <= 0:
            raise ValueError("at least one lead factor needs a positive weight")
        return self

    def total(self) -> float:
        return sum(self.weight(f) for f in LEAD_FACTORS)

    def weight(self, factor: LeadFactor) -> float:
        return float(getattr(self, factor))

    def shares(self) -> dict[LeadFactor, float]:
        """Each factor's share of the total weight (sums to 1)."""
        total = self.total()
        return {f: self.weight(f) / total for f in LEAD_FACTORS}


# Why these differ: diners choose restaurants by photos and what reviews say; patients of
# dentists and lawyers check the website and the rating first; trades are hired for being
# reachable now (hours) and recently reviewed.
DEFAULT_INDUSTRY_WEIGHTS: dict[str, dict[LeadFactor, float]] = {
    "restaurant": {"photos": 12.0, "sentiment": 15.0, "website": 8.0, "review_velocity": 15.0},
    "dentist": {"rating": 25.0, "website": 20.0, "photos": 3.0},
    "legal": {"rating": 25.0, "website": 20.0, "photos": 2.0, "hours": 3.0},
    "home_services": {"hours": 10.0, "review_velocity": 15.0, "photos": 3.0},
    "salon": {"photos": 12.0, "sentiment": 12.0, "website": 10.0},
}
_ALIASES = {
    "restaurants": "restaurant",
    "cafe": "restaurant",
    "dentists": "dentist",
    "dental": "dentist",
    "dental_clinic": "dentist",
    "lawyer": "legal",
    "lawyers": "legal",
    "law_firm": "legal",
    "attorney": "legal",
    "plumber": "home_services",
    "plumbing": "home_services",
    "electrician": "home_services",
    "hvac": "home_services",
    "roofing": "home_services",
    "contractor": "home_services",
    "beauty_salon": "salon",
    "hair_salon": "salon",
    "barber": "salon",
}


def normalize_industry(industry: str | None) -> str | None:
    """'Dental Clinic' -> 'dentist'; unknown industries keep their normalised name."""
    if not industry or not industry.strip():
        return None
    key = re.sub(r"[^a-z0-9]+", "_", industry.strip().lower()).strip("_")
    return _ALIASES.get(key, key)


class LeadScoringConfig(BaseModel):
    """A tenant's lead-scoring configuration (stored in the tenant's settings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weight_overrides: dict[str, dict[str, float]] = Field(
        default_factory=dict[str, dict[str, float]],
        description="industry (or '*' for all) -> factor -> relative weight",
    )
    target_industries: list[str] = Field(default_factory=list[str])
    target_cities: list[str] = Field(default_factory=list[str])
    target_regions: list[str] = Field(default_factory=list[str])
    review_volume_saturation: int = Field(
        default=200, gt=0, description="review count that earns full marks (log scale)"
    )
    monthly_review_target: float = Field(
        default=8.0, gt=0.0, description="new reviews a month that earn full marks"
    )
    photo_saturation: int = Field(default=50, gt=0, description="photos that earn full marks")

    @field_validator("weight_overrides")
    @classmethod
    def _known_factors_only(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        normalised: dict[str, dict[str, float]] = {}
        for industry, weights in value.items():
            unknown = sorted(set(weights) - set(LEAD_FACTORS))
            if unknown:
                raise ValueError(
                    f"unknown lead factor(s) {', '.join(unknown)} for {industry!r}; "
                    f"allowed: {', '.join(LEAD_FACTORS)}"
                )
            negative = sorted(name for name, w in weights.items() if w < 0)
            if negative:
                raise ValueError(f"weights must be >= 0; negative for {', '.join(negative)}")
            key = industry if industry == ALL_INDUSTRIES else normalize_industry(industry)
            normalised[key or ALL_INDUSTRIES] = dict(weights)
        return normalised

    def weights_for(self, industry: str | None) -> tuple[LeadWeights, list[str]]:
        """The merged weights for an industry, and where they came from (for `method`)."""
        key = normalize_industry(industry)
        merged: dict[str, float] = LeadWeights().model_dump()
        sources = ["project defaults"]
        layers: list[tuple[str, dict[str, float]]] = []
        if key in DEFAULT_INDUSTRY_WEIGHTS:
            layers.append((f"{key} defaults", {**DEFAULT_INDUSTRY_WEIGHTS[key]}))
        if ALL_INDUSTRIES in self.weight_overrides:
            layers.append(("tenant overrides for all industries", self.weight_overrides["*"]))
        if key is not None and key in self.weight_overrides:
            layers.append((f"tenant overrides for {key}", self.weight_overrides[key]))
        for source, layer in layers:
            merged.update(layer)
            sources.append(source)
        return LeadWeights.model_validate(merged), sources
