"""Platform actions: create_clickup_task, run_apify_actor, find_email."""

from __future__ import annotations

from typing import Any, cast

from pydantic import Field

from orchestration.workflows.actions.base import (
    ActionFields,
    StepContext,
    lookup_name,
    register,
    require,
)

__all__ = ["ApifyFields", "ClickUpFields", "FindEmailFields"]


class ClickUpFields(ActionFields):
    project: str = Field(min_length=1)  # a list name (qualified_prospects) or list id
    task_name: str | None = None  # `name` is the step's own name
    description: str | None = None
    assignee: str | None = None
    custom_fields: dict[str, Any] | None = None


class ApifyFields(ActionFields):
    actor: str = Field(min_length=1)
    input: dict[str, Any] | str | None = None


class FindEmailFields(ActionFields):
    input: str | dict[str, Any]  # a domain, or the name of a value holding one
    full_name: str | None = None


@register("create_clickup_task", ClickUpFields, side_effecting=True, summary="create a task")
async def create_clickup_task(ctx: StepContext, fields: ClickUpFields) -> dict[str, Any]:
    clickup = require(ctx.services.clickup, "ClickUp adapter", ctx.step_name)
    customer = ctx.event.customer_id or "customer"
    task: dict[str, Any] = {
        "project": fields.project,
        "name": fields.task_name or f"{ctx.workflow_name}: {customer}",
        "description": fields.description,
        "assignee": fields.assignee,
        "custom_fields": fields.custom_fields or {},
        "customer_id": ctx.event.customer_id,
    }
    ctx.count_api_call()
    return await clickup.create_task(task, idempotency_key=ctx.idempotency_key)


@register("run_apify_actor", ApifyFields, side_effecting=True, summary="run an Apify actor")
async def run_apify_actor(ctx: StepContext, fields: ApifyFields) -> dict[str, Any]:
    apify = require(ctx.services.apify, "Apify adapter", ctx.step_name)
    found: Any = {} if fields.input is None else lookup_name(ctx, fields.input, "input")
    run_input: dict[str, Any] = (
        dict(cast(dict[str, Any], found)) if isinstance(found, dict) else {"query": found}
    )
    ctx.count_api_call()
    return await apify.run_actor(fields.actor, run_input, idempotency_key=ctx.idempotency_key)


@register("find_email", FindEmailFields, side_effecting=True, summary="discover an email")
async def find_email(ctx: StepContext, fields: FindEmailFields) -> dict[str, Any]:
    finder = require(ctx.services.email_finder, "email-discovery provider", ctx.step_name)
    found = lookup_name(ctx, fields.input, "input", literal_fallback=True)
    query: dict[str, Any] = dict(found) if isinstance(found, dict) else {"domain": str(found)}  # pyright: ignore[reportUnknownArgumentType]
    if fields.full_name:
        query["full_name"] = fields.full_name
    ctx.count_api_call()
    return await finder.find_email(query, idempotency_key=ctx.idempotency_key)
