"""Flow actions: emit_event (workflow chains) and wait (a durable pause)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, model_validator

from orchestration.events.models import EVENT_TYPE_PATTERN, CustomerEvent, EventPriority
from orchestration.workflows.actions.base import ActionFields, StepContext, lookup_name, register
from orchestration.workflows.durations import parse_relative
from orchestration.workflows.errors import StepFailedError

__all__ = ["EmitFields", "NoopFields", "WaitFields", "wait_until"]


class EmitFields(ActionFields):
    event_type: str = Field(pattern=EVENT_TYPE_PATTERN)
    data: dict[str, Any] | str | None = None  # default: the triggering event's data
    customer_id: str | None = None
    priority: EventPriority = EventPriority.MEDIUM


class WaitFields(ActionFields):
    duration: str | None = None  # "2 days", "+90 minutes"
    until: str | None = None  # an ISO timestamp with a timezone, or a {{ reference }}

    @model_validator(mode="after")
    def _one_of(self) -> WaitFields:
        if (self.duration is None) == (self.until is None):
            raise ValueError("give exactly one of 'duration' (e.g. '2 days') or 'until'")
        return self


@register("emit_event", EmitFields, side_effecting=True, summary="publish a follow-up event")
async def emit_event(ctx: StepContext, fields: EmitFields) -> dict[str, Any]:
    depth = ctx.event.chain_depth + 1
    if depth > ctx.max_chain_depth:
        raise StepFailedError(
            f"step '{ctx.step_name}': emitting '{fields.event_type}' would make a chain of "
            f"{depth} events (limit {ctx.max_chain_depth}); a workflow chain is probably "
            "looping through event conditions"
        )
    data = ctx.event.event_data if fields.data is None else lookup_name(ctx, fields.data, "data")
    if not isinstance(data, dict):
        raise StepFailedError(f"step '{ctx.step_name}': data must be an object of fields")
    # The id is derived from the step's idempotency key: a repeat after a crash is the same
    # event, which the queue accepts once.
    event = CustomerEvent(
        eventId=f"emit:{ctx.idempotency_key}",
        tenantId=ctx.tenant_id,
        customerId=fields.customer_id or ctx.event.customer_id,
        eventType=fields.event_type,
        eventData=dict(data),  # pyright: ignore[reportUnknownArgumentType]
        priority=fields.priority,
    )
    await ctx.publisher(event, schedule_at=None, chain_depth=depth)
    return {"event_id": event.event_id, "event_type": event.event_type, "chain_depth": depth}


def wait_until(ctx: StepContext, fields: WaitFields) -> datetime:
    """When a wait step that first ran at `ctx.now` ends."""
    if fields.duration is not None:
        return ctx.now + parse_relative(fields.duration)
    assert fields.until is not None
    try:
        until = datetime.fromisoformat(fields.until)
    except ValueError:
        raise StepFailedError(
            f"step '{ctx.step_name}': until '{fields.until}' is not an ISO timestamp"
        ) from None
    if until.tzinfo is None:
        raise StepFailedError(f"step '{ctx.step_name}': until needs a timezone (e.g. Z)")
    return max(until, ctx.now - timedelta(seconds=1))


@register("wait", WaitFields, side_effecting=False, summary="pause durably, then continue")
async def wait(ctx: StepContext, fields: WaitFields) -> dict[str, Any]:
    # The engine parks the execution itself (see engine.py); this runs when the wait is over.
    return {"waited_until": wait_until(ctx, fields).isoformat()}


class NoopFields(ActionFields):
    note: str | None = None


@register("noop", NoopFields, side_effecting=False, summary="do nothing (placeholders, benchmarks)")
async def noop(ctx: StepContext, fields: NoopFields) -> dict[str, Any]:
    return {"note": fields.note} if fields.note else {}
