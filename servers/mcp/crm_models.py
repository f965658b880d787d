"""What the CRM tools return: the shared CRM models, with untrusted text fenced and the
result-size fields every list-bearing result carries.

Untrusted fields (free text written by customers, reviewers or scraped pages) are declared
`UntrustedText`; build these models with `model_validate(row, context=fence.context())`.
"""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

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


class ProspectPage(Truncatable):
    items: list[AccountSummary]
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
