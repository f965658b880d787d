"""The action registry: each step action is an async callable taking a StepContext.

An action declares a pydantic model of its fields (checked at save time on the raw YAML
and again at run time after `{{ }}` references are filled in), whether it has side
effects, and the coroutine that performs it. Actions raise StepFailedError for bad data
and TransientStepError for what a retry may fix; nothing else is expected to escape.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncConnection

from orchestration.events.models import CustomerEvent
from orchestration.queue.types import ClaimedEvent
from orchestration.workflows.conditions import resolve_path
from orchestration.workflows.errors import StepFailedError
from orchestration.workflows.services import Services
from shared.db.database import Database

__all__ = [
    "ACTIONS",
    "ACTION_ALIASES",
    "ActionFields",
    "ActionSpec",
    "FollowUpPublisher",
    "StepContext",
    "canonical_action",
    "idempotency_key",
    "lookup_name",
    "register",
    "require",
]

T = TypeVar("T")
_BARE_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*")


class ActionFields(BaseModel):
    """Base of every action's field model: unknown fields are refused, by name."""

    model_config = ConfigDict(extra="forbid")


class FollowUpPublisher(Protocol):
    """Publishes an event the engine emits (emit_event, wait resumption).

    The event id is deterministic, so a repeat after a crash is deduplicated by the queue.
    Given `conn`, the event joins that transaction (the engine parks a `wait` and queues
    its resumption atomically).
    """

    async def __call__(
        self,
        event: CustomerEvent,
        *,
        schedule_at: datetime | None,
        chain_depth: int,
        conn: AsyncConnection | None = None,
    ) -> None: ...


def idempotency_key(
    tenant_id: uuid.UUID, event_id: str, workflow_id: uuid.UUID, version: int, step: str
) -> str:
    """Stable across attempts and workers: (event, workflow, version, step)."""
    raw = f"{tenant_id}|{event_id}|{workflow_id}|{version}|{step}"
    return "sb-" + hashlib.sha256(raw.encode()).hexdigest()[:40]


@dataclass
class StepContext:
    db: Database
    tenant_id: uuid.UUID
    event: ClaimedEvent
    execution_id: uuid.UUID
    workflow_id: uuid.UUID
    workflow_name: str
    workflow_version: int
    step_key: str
    step_name: str
    outputs: dict[str, Any]  # earlier steps' outputs by step key
    scope: dict[str, Any]  # what conditions and {{ }} references see (event, steps, ...)
    services: Services
    publisher: FollowUpPublisher
    now: datetime
    max_chain_depth: int
    api_calls: int = 0
    extra: dict[str, Any] = field(default_factory=dict[str, Any])

    def count_api_call(self) -> None:
        self.api_calls += 1

    @cached_property
    def idempotency_key(self) -> str:
        """Same for every attempt of this step of this execution; made when first asked
        for (a pure step never does)."""
        return idempotency_key(
            self.tenant_id,
            self.event.event_id,
            self.workflow_id,
            self.workflow_version,
            self.step_key,
        )


ActionRun = Callable[[StepContext, Any], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    fields: type[ActionFields]
    run: ActionRun
    side_effecting: bool
    summary: str


ACTIONS: dict[str, ActionSpec] = {}

# The spec's n8n templates name Supabase and Anymail Finder directly; they mean these.
ACTION_ALIASES: dict[str, str] = {
    "query_supabase": "query_crm",
    "update_supabase": "update_crm",
    "call_anymail_finder": "find_email",
}


def canonical_action(name: str) -> str:
    return ACTION_ALIASES.get(name, name)


def register(
    name: str, fields: type[ActionFields], *, side_effecting: bool, summary: str
) -> Callable[[ActionRun], ActionRun]:
    def decorate(run: ActionRun) -> ActionRun:
        ACTIONS[name] = ActionSpec(name, fields, run, side_effecting, summary)
        return run

    return decorate


def lookup_name(
    ctx: StepContext, value: Any, field_name: str, *, literal_fallback: bool = False
) -> Any:
    """A bare name in a data field (`data: "qualification_results"`, as the spec's templates
    write) names a value in the scope; anything else is taken as given. With
    `literal_fallback`, a name with no value is the literal text (a domain like acme.com)."""
    if isinstance(value, str) and _BARE_PATH.fullmatch(value):
        found = resolve_path(ctx.scope, value.split("."))
        if found is None and literal_fallback:
            return value
        if found is None:
            raise StepFailedError(
                f"step '{ctx.step_name}': {field_name} names '{value}', which has no value "
                "in this execution; check the earlier steps' outputs or the event data"
            )
        return found
    return value


def require(service: T | None, what: str, step_name: str) -> T:
    """The service, or StepFailedError saying it is not configured in this worker."""
    if service is None:
        raise StepFailedError(
            f"step '{step_name}' needs the {what}, which is not configured in this worker"
        )
    return service
