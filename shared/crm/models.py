"""What the CRM repository takes and returns: pydantic models, shared by every data source.

Text fields that come from CRM rows (notes, review texts, activity bodies) are untrusted:
callers that hand them to a language model must fence them (see the MCP servers).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "AccountDetail",
    "AccountPage",
    "AccountSummary",
    "Activity",
    "ActivityKind",
    "ActorKind",
    "Campaign",
    "CampaignChannel",
    "CampaignKind",
    "Contact",
    "Deal",
    "DealStage",
    "HealthScore",
    "LeadQualification",
    "LifecycleStage",
    "NewActivity",
    "NewCampaign",
    "NewHealthScore",
    "NewLeadQualification",
    "Page",
    "PipelineSummary",
    "ProspectSearch",
    "ProspectSort",
    "Review",
    "StageChange",
    "StageConversion",
    "StageTotal",
    "Transaction",
]

T = TypeVar("T")

MAX_PAGE_SIZE = 100


class LifecycleStage(StrEnum):
    PROSPECT = "prospect"
    LEAD = "lead"
    QUALIFIED = "qualified"
    CUSTOMER = "customer"
    AT_RISK = "at_risk"
    CHURNED = "churned"


class DealStage(StrEnum):
    NEW = "new"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    WON = "won"
    LOST = "lost"


class ActivityKind(StrEnum):
    CALL = "call"
    EMAIL = "email"
    MEETING = "meeting"
    TASK = "task"
    FOLLOW_UP_CALL = "follow_up_call"
    SMS = "sms"
    NOTE = "note"


class ActorKind(StrEnum):
    """Who made a record: the spec measures follow-ups made by automation vs by hand."""

    MANUAL = "manual"
    AUTOMATION = "automation"
    AGENT = "agent"


class CampaignKind(StrEnum):
    ACQUISITION = "acquisition"
    RETENTION = "retention"


class CampaignChannel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class _Row(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class AccountSummary(_Row):
    id: uuid.UUID
    name: str
    industry: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    website: str | None = None
    phone: str | None = None
    gmb_rating: float | None = None
    gmb_review_count: int | None = None
    lifecycle_stage: LifecycleStage
    lead_score: float | None = None
    owner: str | None = None
    updated_at: datetime | None = None


class Contact(_Row):
    id: uuid.UUID
    account_id: uuid.UUID
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    title: str | None = None
    is_primary: bool = False


class Deal(_Row):
    id: uuid.UUID
    account_id: uuid.UUID
    title: str
    stage: DealStage
    amount: float
    currency: str = "USD"
    expected_close_date: date | None = None
    closed_at: datetime | None = None
    created_at: datetime | None = None


class Activity(_Row):
    id: uuid.UUID
    account_id: uuid.UUID
    contact_id: uuid.UUID | None = None
    kind: ActivityKind
    subject: str
    body: str | None = None
    due_at: datetime | None = None
    done_at: datetime | None = None
    created_by: ActorKind = ActorKind.MANUAL
    created_at: datetime | None = None


class Review(_Row):
    id: uuid.UUID
    account_id: uuid.UUID
    rating: int
    text: str | None = None
    author: str | None = None
    reviewed_at: datetime
    source: str = "google"
    owner_response: str | None = None


class Transaction(_Row):
    id: uuid.UUID
    account_id: uuid.UUID
    amount: float
    occurred_at: datetime
    description: str | None = None


class Campaign(_Row):
    id: uuid.UUID
    name: str
    kind: CampaignKind
    channel: CampaignChannel
    status: str
    account_id: uuid.UUID | None = None
    message: str | None = None
    audience: dict[str, Any] | None = None
    scheduled_at: datetime | None = None
    created_by: ActorKind = ActorKind.MANUAL
    created_at: datetime | None = None


class HealthScore(_Row):
    id: uuid.UUID
    account_id: uuid.UUID
    score: float
    churn_probability: float
    drivers: list[dict[str, Any]] = Field(default_factory=list[dict[str, Any]])
    method: str | None = None
    computed_at: datetime


class LeadQualification(_Row):
    id: uuid.UUID
    account_id: uuid.UUID
    score: float
    grade: Literal["A", "B", "C", "D"]
    factors: list[dict[str, Any]] = Field(default_factory=list[dict[str, Any]])
    model_version: str
    recommended_action: str | None = None
    created_at: datetime | None = None


class AccountDetail(AccountSummary):
    """The full picture of one account, as `get_account` returns it."""

    address: str | None = None
    email: str | None = None
    google_place_id: str | None = None
    gmb_hours: dict[str, Any] | None = None
    gmb_photos_count: int | None = None
    gmb_categories: list[str] | None = None
    notes: str | None = None
    source: str | None = None
    created_at: datetime | None = None
    contacts: list[Contact] = Field(default_factory=list[Contact])
    open_deals: list[Deal] = Field(default_factory=list[Deal])
    recent_activities: list[Activity] = Field(default_factory=list[Activity])
    recent_reviews: list[Review] = Field(default_factory=list[Review])
    latest_qualification: LeadQualification | None = None
    latest_health: HealthScore | None = None


class ProspectSort(StrEnum):
    NAME = "name"
    RATING = "gmb_rating"
    REVIEW_COUNT = "gmb_review_count"
    LEAD_SCORE = "lead_score"
    UPDATED_AT = "updated_at"


class ProspectSearch(BaseModel):
    """Filters of `search_prospects`; every one optional, all of them ANDed."""

    model_config = ConfigDict(extra="forbid")

    industry: list[str] | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    rating_min: float | None = Field(default=None, ge=0, le=5)
    rating_max: float | None = Field(default=None, ge=0, le=5)
    review_count_min: int | None = Field(default=None, ge=0)
    review_count_max: int | None = Field(default=None, ge=0)
    lifecycle_stage: list[LifecycleStage] | None = Field(default=None, max_length=6)
    lead_score_min: float | None = Field(default=None, ge=0, le=100)
    lead_score_max: float | None = Field(default=None, ge=0, le=100)
    has_website: bool | None = None
    text: str | None = Field(default=None, min_length=1, max_length=200)
    not_contacted_since_days: int | None = Field(
        default=None, ge=0, le=3650, description="No activity in this many days (or ever)"
    )
    sort: ProspectSort = ProspectSort.LEAD_SCORE
    descending: bool = True
    limit: int = Field(default=25, ge=1, le=MAX_PAGE_SIZE)
    cursor: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _ranges_in_order(self) -> ProspectSearch:
        for low, high in (
            ("rating_min", "rating_max"),
            ("review_count_min", "review_count_max"),
            ("lead_score_min", "lead_score_max"),
        ):
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and lo > hi:
                raise ValueError(f"{low} ({lo}) is greater than {high} ({hi})")
        return self


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    next_cursor: str | None = None
    # True: counting stopped at `total` and more rows match (an exact count of a broad search
    # would cost a second pass over every match).
    total_at_least: bool = False


# search_accounts' result class, held here: pydantic caches `Page[AccountSummary]` only
# weakly, so a page built by subscripting on each call rebuilt the class (~1 ms) whenever the
# collector had freed it (a few % of searches: their p95).
AccountPage = Page[AccountSummary]


class StageTotal(BaseModel):
    stage: str
    count: int
    value: float


class StageConversion(BaseModel):
    from_stage: str
    to_stage: str
    rate: float | None  # None when nothing reached from_stage


class PipelineSummary(BaseModel):
    period_start: datetime
    period_end: datetime
    deals_by_stage: list[StageTotal]
    accounts_by_lifecycle_stage: list[StageTotal]
    conversion: list[StageConversion]
    won_count: int
    won_revenue: float
    lost_count: int
    new_deals: int


class StageChange(BaseModel):
    account_id: uuid.UUID
    previous_stage: LifecycleStage
    new_stage: LifecycleStage
    changed: bool


class NewActivity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: uuid.UUID
    kind: ActivityKind
    subject: str = Field(min_length=1, max_length=300)
    body: str | None = Field(default=None, max_length=10_000)
    contact_id: uuid.UUID | None = None
    due_at: datetime | None = None
    done_at: datetime | None = None
    created_by: ActorKind = ActorKind.AGENT


class NewCampaign(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: CampaignKind
    channel: CampaignChannel
    account_id: uuid.UUID | None = None
    message: str | None = Field(default=None, max_length=5_000)
    audience: dict[str, Any] | None = None
    scheduled_at: datetime | None = None
    created_by: ActorKind = ActorKind.AGENT


class NewLeadQualification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: uuid.UUID
    score: float = Field(ge=0, le=100)
    grade: Literal["A", "B", "C", "D"]
    factors: list[dict[str, Any]] = Field(default_factory=list[dict[str, Any]], max_length=50)
    model_version: str = Field(min_length=1, max_length=100)
    recommended_action: str | None = Field(default=None, max_length=500)


class NewHealthScore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: uuid.UUID
    score: float = Field(ge=0, le=100)
    churn_probability: float = Field(ge=0, le=1)
    drivers: list[dict[str, Any]] = Field(default_factory=list[dict[str, Any]], max_length=50)
    method: str | None = Field(default=None, max_length=200)
