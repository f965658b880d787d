"""What the CRM tools return: the shared CRM models, with untrusted text fenced and the
result-size fields every list-bearing result carries.

Untrusted fields (free text written by customers, reviewers or scraped pages) are declared
`UntrustedText`; build these models with `model_validate(row, context=fence.context())`.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from servers.mcp.common.budget import Truncatable
from servers.mcp.common.fence import UntrustedText
from shared.crm.models import (
    AccountDetail,
    AccountSummary,
    Activity,
    Campaign,
    LeadQualification,
    LifecycleStage,
    Review,
)
from shared.crm.query import Cell

__all__ = [
    "AccountDetailOut",
    "ActivityOut",
    "CampaignOut",
    "LoggedActivity",
    "ProspectPage",
    "ProspectRow",
    "QualificationOut",
    "QueryResultOut",
    "ReviewOut",
    "StageChangeOut",
]


class ActivityOut(Activity):
    subject: UntrustedText = None  # pyright: ignore[reportIncompatibleVariableOverride]
    body: UntrustedText = None


class ReviewOut(Review):
    text: UntrustedText = None
    author: UntrustedText = None
    owner_response: UntrustedText = None


class CampaignOut(Campaign):
    message: UntrustedText = None


class QualificationOut(LeadQualification):
    recommended_action: UntrustedText = None


class AccountDetailOut(AccountDetail, Truncatable):
    notes: UntrustedText = None
    recent_activities: list[ActivityOut] = Field(  # pyright: ignore[reportIncompatibleVariableOverride]
        default_factory=list[ActivityOut]
    )
    recent_reviews: list[ReviewOut] = Field(  # pyright: ignore[reportIncompatibleVariableOverride]
        default_factory=list[ReviewOut]
    )
    latest_qualification: QualificationOut | None = None  # pyright: ignore[reportIncompatibleVariableOverride]


def _untitled(schema: dict[str, Any]) -> None:
    """Drop the titles pydantic derives from field names ("Gmb Rating"): they say nothing the
    names do not, and a client's validator looks at every key of every row's fields."""
    schema.pop("title", None)
    for field in schema.get("properties", {}).values():
        field.pop("title", None)


class ProspectRow(BaseModel):
    """One match of search_prospects: enough to choose an account; get_account with its id
    gives the full picture (address, phone, website, owner, notes, contacts, deals...)."""

    # Every field is present in every row (null when unknown), so all are required: no
    # defaults to describe. Fewer, plainer fields per row matter here: clients (the MCP SDK's
    # with jsonschema) check each row's fields against the output schema, ~6 µs a field.
    model_config = ConfigDict(frozen=True, json_schema_extra=_untitled)

    id: uuid.UUID
    name: str
    industry: str | None
    city: str | None
    region: str | None
    gmb_rating: float | None
    gmb_review_count: int | None
    lifecycle_stage: LifecycleStage
    lead_score: float | None
    has_website: bool

    @classmethod
    def from_summary(cls, account: AccountSummary) -> ProspectRow:
        return cls(**_row_fields(account))

    @staticmethod
    def from_summaries(accounts: list[AccountSummary]) -> list[ProspectRow]:
        """`from_summary` of each, validated in one call (a page's rows: a third less CPU
        than one constructor call per row)."""
        return _PROSPECT_ROWS.validate_python([_row_fields(account) for account in accounts])


def _row_fields(account: AccountSummary) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "industry": account.industry,
        "city": account.city,
        "region": account.region,
        "gmb_rating": account.gmb_rating,
        "gmb_review_count": account.gmb_review_count,
        "lifecycle_stage": account.lifecycle_stage,
        "lead_score": account.lead_score,
        "has_website": bool(account.website),
    }


_PROSPECT_ROWS = TypeAdapter(list[ProspectRow])


class ProspectPage(Truncatable):
    # Frozen: search_prospects measures the page it returns (results.measured_size).
    model_config = ConfigDict(frozen=True)

    items: list[ProspectRow]
    total: int = Field(description="How many accounts match, across all pages")
    total_at_least: bool = Field(
        default=False, description="True: at least `total` match (counting stopped there)"
    )
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` (same filters) for the next page; null: last"
    )


class QueryResultOut(Truncatable):
    columns: list[str]
    rows: list[list[Cell]] = Field(description="One list per row, in `columns` order")
    row_count: int


class StageChangeOut(BaseModel):
    account_id: uuid.UUID
    previous_stage: LifecycleStage
    new_stage: LifecycleStage
    changed: bool = Field(description="False when the account was already at that stage")


class LoggedActivity(BaseModel):
    activity: ActivityOut
    follow_up: ActivityOut | None = Field(
        default=None, description="The follow-up call scheduled with it, if one was asked for"
    )
