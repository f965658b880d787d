"""Inputs shared by the analytics modules, and the fields every analysis result carries.

Inputs are validated pydantic models: ratings are 1-5, counts are non-negative, and every
timestamp must carry a time zone (a naive datetime is ambiguous and is rejected).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from shared.errors import ValidationFailedError

__all__ = [
    "AccountActivity",
    "AnalysisResult",
    "BusinessPost",
    "BusinessProfile",
    "Confidence",
    "ProfileSnapshot",
    "Rating",
    "Review",
    "Transaction",
    "confidence_from_share",
    "resolve_as_of",
]

Confidence = Literal["low", "medium", "high"]
Rating = Annotated[float, Field(ge=1.0, le=5.0, description="star rating, 1 to 5")]
Count = Annotated[int, Field(ge=0)]


class AnalysisResult(BaseModel):
    """What every result says about itself, so an agent can explain it to a business owner."""

    model_config = ConfigDict(frozen=True)

    method: str = Field(description="how the figures were computed, in one sentence")
    inputs_used: list[str] = Field(description="which input fields contributed")
    confidence: Confidence = Field(description="how much data stood behind the figures")
    explanation: str = Field(description="the result in plain language")


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Review(_Input):
    rating: Annotated[int, Field(ge=1, le=5, description="star rating, 1 to 5")]
    text: str = ""
    reviewed_at: AwareDatetime
    author: str | None = None
    owner_response: str | None = Field(default=None, description="the business's public reply")


class BusinessPost(_Input):
    """A post or update the business published (e.g. on its Google profile)."""

    text: str
    posted_at: AwareDatetime


class ProfileSnapshot(_Input):
    """The public profile as observed at one moment; a list of them is the profile's history."""

    observed_at: AwareDatetime
    rating: Rating | None = None
    review_count: Count | None = None
    photos_count: Count | None = None
    website: str | None = None
    hours: dict[str, str] | None = None


class BusinessProfile(_Input):
    """A business as seen from outside: a prospect, a customer or a competitor."""

    name: str = Field(min_length=1)
    industry: str | None = None
    city: str | None = None
    region: str | None = None
    rating: Rating | None = None
    review_count: Count = 0
    website: str | None = None
    hours: dict[str, str] | None = Field(
        default=None, description="opening hours by day, e.g. {'mon': '09:00-17:00'}"
    )
    photos_count: Count = 0
    description: str | None = None
    reviews: list[Review] = Field(default_factory=list[Review])
    posts: list[BusinessPost] = Field(default_factory=list[BusinessPost])
    history: list[ProfileSnapshot] = Field(
        default_factory=list[ProfileSnapshot], description="earlier observations, any order"
    )

    @field_validator("website")
    @classmethod
    def _blank_website_is_none(cls, value: str | None) -> str | None:
        return value or None

    @property
    def has_website(self) -> bool:
        return self.website is not None

    @property
    def has_hours(self) -> bool:
        return bool(self.hours)


class Transaction(_Input):
    """One purchase or payment by a customer."""

    customer_id: str = Field(min_length=1)
    occurred_at: AwareDatetime
    amount: float = Field(ge=0.0, description="money received, in the tenant's currency")


class AccountActivity(_Input):
    """A completed touch between the business and a customer (call, email, meeting, ...).

    Kinds are the CRM's own; `support_ticket` and `complaint` count as friction in the health
    score. Pass only activities that happened (not open tasks due in the future).
    """

    kind: str = Field(min_length=1)
    occurred_at: AwareDatetime

    @field_validator("kind")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()


def resolve_as_of(as_of: datetime | None) -> datetime:
    """The reference time of an analysis; naive datetimes are rejected rather than guessed."""
    if as_of is None:
        return datetime.now(UTC)
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValidationFailedError(
            "as_of has no time zone; pass an aware datetime such as 2026-01-31T00:00:00+00:00"
        )
    return as_of


def confidence_from_share(share: float, *, high: float = 0.8, medium: float = 0.5) -> Confidence:
    """Map the share (0..1) of the evidence that was actually available to a label."""
    if share >= high:
        return "high"
    if share >= medium:
        return "medium"
    return "low"
