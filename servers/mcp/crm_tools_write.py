"""The CRM server's write tools. Hidden and refused for viewers and in read-only mode.

Every write goes through the tenant's CrmRepository, whose change sink turns it into the
matching lifecycle event (see orchestration/events/crm_sink.py) in the same transaction,
so workflows react to what the agent did.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import Field

from servers.mcp.common.errors import tool_errors
from servers.mcp.common.fence import Fence
from servers.mcp.common.periods import as_utc_argument
from servers.mcp.common.roles import ToolAccess
from servers.mcp.common.state import AppState
from servers.mcp.common.tools import ToolSpec, app_state, current_caller, writes
from servers.mcp.crm_models import (
    ActivityOut,
    CampaignOut,
    LoggedActivity,
    QualificationOut,
    StageChangeOut,
)
from shared.crm.models import (
    ActivityKind,
    ActorKind,
    CampaignChannel,
    CampaignKind,
    LifecycleStage,
    NewActivity,
    NewCampaign,
    NewLeadQualification,
)
from shared.crm.repository import CrmRepository

__all__ = ["WRITE_TOOLS"]

NOT_FOUND_HINT = "search_prospects finds account ids by name, city or industry"
MAX_FOLLOW_UP_DAYS = 365


async def _crm(ctx: Context[AppState, Any]) -> CrmRepository:
    caller = await current_caller(ctx)
    return await app_state(ctx).crm(caller.tenant_id)


async def update_lifecycle_stage(
    ctx: Context[AppState, Any],
    account_id: Annotated[uuid.UUID, Field(description="The account id")],
    stage: Annotated[
        LifecycleStage,
        Field(description="prospect, lead, qualified, customer, at_risk or churned"),
    ],
) -> StageChangeOut:
    """Move an account to another lifecycle stage and tell the workflows: qualified emits
    lead_qualified, customer emits customer_onboarded, at_risk emits churn_risk_detected
    (other stages emit nothing). Setting the stage it already has changes nothing and emits
    nothing (`changed: false`).

    Confirm with the user before marking a customer at_risk or churned. Returns the previous
    and new stage. Next: log_activity to note why.
    """
    repository = await _crm(ctx)
    with tool_errors(not_found_hint=NOT_FOUND_HINT):
        change = await repository.update_lifecycle_stage(account_id, stage)
    return StageChangeOut.model_validate(change, from_attributes=True)


async def log_activity(
    ctx: Context[AppState, Any],
    account_id: Annotated[uuid.UUID, Field(description="The account id")],
    kind: Annotated[
        ActivityKind,
        Field(description="call, email, meeting, task, follow_up_call, sms or note"),
    ],
    subject: Annotated[str, Field(min_length=1, max_length=300, description="One line")],
    body: Annotated[str | None, Field(max_length=10_000, description="Details")] = None,
    contact_id: Annotated[
        uuid.UUID | None, Field(description="The contact it was with (get_account lists them)")
    ] = None,
    done: Annotated[
        bool, Field(description="true: it happened now; false: it is still to do")
    ] = True,
    follow_up_in_days: Annotated[
        int | None,
        Field(ge=1, le=MAX_FOLLOW_UP_DAYS, description="Also schedule a follow-up call N days out"),
    ] = None,
    follow_up_subject: Annotated[
        str | None, Field(min_length=1, max_length=300, description="Default: 'Follow up: ...'")
    ] = None,
) -> LoggedActivity:
    """Record a call, email, meeting, task, text or note on an account, and optionally
    schedule a follow-up call N days from now (`follow_up_in_days`), which shows up as an
    open follow_up_call activity due then.

    Use it after the user reports contact with a business, or to plan the next touch.
    Returns the activity (and the follow-up). Next: update_lifecycle_stage if the contact
    moved the account on.
    """
    repository = await _crm(ctx)
    now = datetime.now(UTC)
    with tool_errors(not_found_hint=NOT_FOUND_HINT):
        activity = await repository.log_activity(
            NewActivity(
                account_id=account_id,
                kind=kind,
                subject=subject,
                body=body,
                contact_id=contact_id,
                done_at=now if done else None,
                created_by=ActorKind.AGENT,
            )
        )
        follow_up = None
        if follow_up_in_days is not None:
            follow_up = await repository.log_activity(
                NewActivity(
                    account_id=account_id,
                    kind=ActivityKind.FOLLOW_UP_CALL,
                    subject=follow_up_subject or f"Follow up: {subject}"[:300],
                    contact_id=contact_id,
                    due_at=now + timedelta(days=follow_up_in_days),
                    created_by=ActorKind.AGENT,
                )
            )
    fence = Fence()
    return LoggedActivity(
        activity=ActivityOut.model_validate(
            activity, from_attributes=True, context=fence.context()
        ),
        follow_up=(
            ActivityOut.model_validate(follow_up, from_attributes=True, context=fence.context())
            if follow_up is not None
            else None
        ),
    )


async def create_campaign(
    ctx: Context[AppState, Any],
    name: Annotated[str, Field(min_length=1, max_length=200, description="Campaign name")],
    kind: Annotated[
        CampaignKind, Field(description="acquisition (win new) or retention (keep customers)")
    ],
    channel: Annotated[CampaignChannel, Field(description="email or sms")],
    message: Annotated[
        str | None, Field(max_length=5_000, description="The message to send")
    ] = None,
    account_id: Annotated[
        uuid.UUID | None, Field(description="One account to target (omit for an audience)")
    ] = None,
    audience: Annotated[
        dict[str, Any] | None,
        Field(description="Who to target, e.g. {lifecycle_stage: at_risk, city: Austin}"),
    ] = None,
    scheduled_at: Annotated[
        datetime | None, Field(description="When to send (ISO; UTC if no offset)")
    ] = None,
) -> CampaignOut:
    """Create an email or SMS campaign, for one account or an audience. A retention campaign
    emits retention_campaign_triggered, which starts the tenant's retention workflows
    (they may send messages on external platforms); acquisition campaigns emit nothing.

    Confirm the message and audience with the user first. Each call creates a new campaign.
    """
    repository = await _crm(ctx)
    with tool_errors(not_found_hint=NOT_FOUND_HINT):
        campaign = await repository.create_campaign(
            NewCampaign(
                name=name,
                kind=kind,
                channel=channel,
                account_id=account_id,
                message=message,
                audience=audience,
                scheduled_at=as_utc_argument(scheduled_at),
                created_by=ActorKind.AGENT,
            )
        )
    return CampaignOut.model_validate(campaign, from_attributes=True, context=Fence().context())


async def record_lead_qualification(
    ctx: Context[AppState, Any],
    account_id: Annotated[uuid.UUID, Field(description="The account id")],
    score: Annotated[float, Field(ge=0, le=100, description="0-100, higher is better")],
    grade: Annotated[Literal["A", "B", "C", "D"], Field(description="A best ... D worst")],
    factors: Annotated[
        list[dict[str, Any]] | None,
        Field(max_length=50, description="Why, e.g. [{name: rating, value: 4.8, weight: 0.3}]"),
    ] = None,
    recommended_action: Annotated[
        str | None, Field(max_length=500, description="What to do next with this lead")
    ] = None,
    model_version: Annotated[
        str, Field(min_length=1, max_length=100, description="Who scored it")
    ] = "agent",
) -> QualificationOut:
    """Store a lead qualification for an account: score, grade, the factors behind it and
    a recommended action; the account's lead score becomes this score. A score above the
    workspace's threshold (default 80) emits lead_qualified, which starts the qualification
    workflows (e.g. a ClickUp task for sales).

    Next: update_lifecycle_stage to qualified if the user agrees.
    """
    repository = await _crm(ctx)
    with tool_errors(not_found_hint=NOT_FOUND_HINT):
        qualification = await repository.record_lead_qualification(
            NewLeadQualification(
                account_id=account_id,
                score=score,
                grade=grade,
                factors=factors or [],
                model_version=model_version,
                recommended_action=recommended_action,
            )
        )
    return QualificationOut.model_validate(
        qualification, from_attributes=True, context=Fence().context()
    )


WRITE_TOOLS = [
    ToolSpec(
        fn=update_lifecycle_stage,
        title="Update an account's lifecycle stage",
        access=ToolAccess.WRITE,
        # Replaces the stage (destructive); repeating it is a no-op (idempotent); the
        # event it emits can start workflows on external platforms (open world).
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True
        ),
    ),
    ToolSpec(
        fn=log_activity,
        title="Log an activity / schedule a follow-up",
        access=ToolAccess.WRITE,
        annotations=writes(idempotent=False, open_world=False),
        fenced=True,
    ),
    ToolSpec(
        fn=create_campaign,
        title="Create a campaign",
        access=ToolAccess.WRITE,
        annotations=writes(idempotent=False, open_world=True),
        fenced=True,
    ),
    ToolSpec(
        fn=record_lead_qualification,
        title="Record a lead qualification",
        access=ToolAccess.WRITE,
        annotations=writes(idempotent=False, open_world=True),
        fenced=True,
    ),
]
