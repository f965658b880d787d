"""CRM actions: query_crm, update_crm, create_campaign, create_activity."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from orchestration.workflows.actions.base import (
    ActionFields,
    StepContext,
    lookup_name,
    register,
    require,
)
from orchestration.workflows.conditions import parse_condition
from orchestration.workflows.durations import parse_relative
from orchestration.workflows.errors import ConditionError, StepFailedError

__all__ = ["ActivityFields", "CampaignFields", "QueryFields", "UpdateFields"]

TABLE_PATTERN = r"^[a-z_][a-z0-9_]{0,62}$"


class QueryFields(ActionFields):
    table: str = Field(pattern=TABLE_PATTERN)
    fields: list[str] | None = None
    # A condition over each record, in the condition language: "churn_probability > 0.7".
    filter: str | None = None
    limit: int = Field(default=100, ge=1, le=1000)

    @field_validator("filter")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        if value is not None and "{{" not in value:
            try:
                parse_condition(value)
            except ConditionError as exc:
                raise ValueError(str(exc)) from None
        return value


class UpdateFields(ActionFields):
    table: str = Field(pattern=TABLE_PATTERN)
    data: dict[str, Any] | str  # a dict, or the name of a value in the scope
    record_id: str | None = None


class CampaignFields(ActionFields):
    type: str
    campaign_name: str | None = None  # `name` is the step's own name
    platform: str = "internal_crm"
    audience: Any = None
    data: dict[str, Any] | str | None = None


class ActivityFields(ActionFields):
    type: str
    due_date: str | None = None  # relative ("+3 days") or an ISO timestamp
    subject: str | None = None
    notes: str | None = None
    account_id: str | None = None
    assigned_to: str | None = None


def _as_dict(ctx: StepContext, value: Any, field_name: str) -> dict[str, Any]:
    found = lookup_name(ctx, value, field_name)
    if not isinstance(found, dict):
        raise StepFailedError(
            f"step '{ctx.step_name}': {field_name} must be an object of fields, "
            f"got {type(found).__name__}"
        )
    return dict(found)  # pyright: ignore[reportUnknownArgumentType]


@register("query_crm", QueryFields, side_effecting=False, summary="read CRM records")
async def query_crm(ctx: StepContext, fields: QueryFields) -> dict[str, Any]:
    crm = require(ctx.services.crm, "CRM repository", ctx.step_name)
    records = await crm.query(
        fields.table, fields=fields.fields, filter=fields.filter, limit=fields.limit
    )
    # The first record's fields are also the step's own fields, so a one-record query reads
    # naturally in later conditions (`gmb_data.rating > 4`).
    first: dict[str, Any] = records[0] if records else {}
    return {**first, "records": records, "count": len(records)}


@register("update_crm", UpdateFields, side_effecting=True, summary="write a CRM record")
async def update_crm(ctx: StepContext, fields: UpdateFields) -> dict[str, Any]:
    crm = require(ctx.services.crm, "CRM repository", ctx.step_name)
    data = _as_dict(ctx, fields.data, "data")
    return await crm.update(
        fields.table, fields.record_id, data, idempotency_key=ctx.idempotency_key
    )


@register("create_campaign", CampaignFields, side_effecting=True, summary="start a campaign")
async def create_campaign(ctx: StepContext, fields: CampaignFields) -> dict[str, Any]:
    crm = require(ctx.services.crm, "CRM repository", ctx.step_name)
    campaign: dict[str, Any] = {
        "type": fields.type,
        "name": fields.campaign_name or f"{ctx.workflow_name}: {fields.type}",
        "platform": fields.platform,
        "customer_id": ctx.event.customer_id,
    }
    if fields.audience is not None:
        campaign["audience"] = fields.audience
    if fields.data is not None:
        campaign.update(_as_dict(ctx, fields.data, "data"))
    return await crm.create_campaign(campaign, idempotency_key=ctx.idempotency_key)


@register("create_activity", ActivityFields, side_effecting=True, summary="log/schedule a task")
async def create_activity(ctx: StepContext, fields: ActivityFields) -> dict[str, Any]:
    crm = require(ctx.services.crm, "CRM repository", ctx.step_name)
    due_at = None
    if fields.due_date:
        text = fields.due_date.strip()
        if text[:1].isdigit() and "-" in text:
            try:
                due_at = datetime.fromisoformat(text)
            except ValueError:
                raise StepFailedError(
                    f"step '{ctx.step_name}': due_date '{text}' is not an ISO date"
                ) from None
            if due_at.tzinfo is None:
                raise StepFailedError(
                    f"step '{ctx.step_name}': due_date '{text}' needs a timezone (e.g. Z)"
                )
        else:
            due_at = ctx.now + parse_relative(text)
    activity = {
        "type": fields.type,
        "subject": fields.subject or fields.type.replace("_", " "),
        "notes": fields.notes,
        "account_id": fields.account_id or ctx.event.customer_id,
        "assigned_to": fields.assigned_to,
    }
    return await crm.create_activity(activity, due_at, idempotency_key=ctx.idempotency_key)
