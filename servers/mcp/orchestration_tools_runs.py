"""The orchestration server's run tools: emit an event, read executions, retry one, replay
dead letters. Thin shells over orchestration.events.publish, orchestration.executions and
the queue store; every id is checked against the caller's workspace.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, cast

import sqlalchemy as sa
from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field, ValidationError

from orchestration.events.models import CustomerEvent, EventPriority, EventSource
from orchestration.events.publish import publish
from orchestration.executions import (
    STATUSES,
    ExecutionRecord,
    load_execution,
)
from orchestration.executions import (
    get_execution as load_tenant_execution,
)
from orchestration.queue.sql_store import SqlQueueStore
from orchestration.queue.store import EventStatus, QueuedEvent, ReplayFilter
from servers.mcp.common.budget import NOTE_RESERVE, fit_count
from servers.mcp.common.errors import describe_validation_error, tool_errors
from servers.mcp.common.fence import Fence
from servers.mcp.common.periods import as_utc_argument
from servers.mcp.common.roles import ToolAccess
from servers.mcp.common.state import AppState
from servers.mcp.common.tools import READ_ONLY, ToolSpec
from servers.mcp.orchestration_models import (
    EventEmittedOut,
    ExecutionListOut,
    ExecutionOut,
    ReplayOut,
    RetryOut,
)
from servers.mcp.orchestration_tools_common import (
    Approval,
    NotAsked,
    approved,
    ask_unless_confirmed,
    parse_uuid,
    tenant_of,
)
from shared.db.orchestration_tables import workflow_definitions, workflow_executions
from shared.errors import NotFoundError

__all__ = ["RUN_TOOLS"]

EXECUTION_HINT = "list_executions shows this workspace's execution ids"
MAX_REPLAY = 1000
READ = READ_ONLY
RUNS = ToolAnnotations(  # queues work whose workflows may act on external platforms
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True
)


def _fenced(value: Any, fence: Fence) -> Any:
    """Every string inside `value` fenced: step outputs carry CRM and platform text."""
    if isinstance(value, str):
        return fence.wrap(value)
    if isinstance(value, dict):
        return {k: _fenced(v, fence) for k, v in cast("dict[str, Any]", value).items()}
    if isinstance(value, list):
        return [_fenced(v, fence) for v in cast("list[Any]", value)]
    return value


def _execution(record: ExecutionRecord, *, with_state: bool = False) -> ExecutionOut:
    shown = record.as_dict(with_state=with_state)
    fence = Fence()
    shown["execution_result"] = _fenced(shown["execution_result"], fence)
    # Error messages quote platform answers and CRM data: untrusted text too.
    shown["error_details"] = _fenced(shown["error_details"], fence)
    if with_state:
        steps = cast("dict[str, Any]", shown["steps"])
        shown["steps"] = {
            key: {**step, "output": _fenced(step["output"], fence)} if "output" in step else step
            for key, step in steps.items()
        }
    return ExecutionOut.model_validate(shown)


async def emit_event(
    ctx: Context[AppState, Any],
    event_type: Annotated[
        str, Field(min_length=2, max_length=64, description="e.g. lead_qualified, deal_closed")
    ],
    data: Annotated[dict[str, Any] | None, Field(description="The event's data")] = None,
    customer_id: Annotated[
        str | None, Field(max_length=200, description="The customer (CRM account) id")
    ] = None,
    priority: Annotated[EventPriority, Field(description="low, medium, high, critical")] = (
        EventPriority.MEDIUM
    ),
    event_id: Annotated[
        str | None,
        Field(min_length=1, max_length=200, description="Repeat-safe id: a repeat is ignored"),
    ] = None,
) -> EventEmittedOut:
    """Publish a customer lifecycle event (prospect_identified, lead_qualified,
    customer_onboarded, churn_risk_detected, retention_campaign_triggered, deal_closed, or a
    custom type the workspace allows); every active workflow triggered by that type runs.
    Next: list_executions to see what it started."""
    state, caller = await tenant_of(ctx)
    fields: dict[str, Any] = {
        "tenantId": caller.tenant_id,
        "customerId": customer_id,
        "eventType": event_type,
        "eventData": data or {},
        "priority": priority,
        "source": EventSource.CRM,
    }
    if event_id is not None:
        fields["eventId"] = event_id
    try:
        event = CustomerEvent.model_validate(fields)
    except ValidationError as exc:
        raise ToolError(describe_validation_error(exc)) from exc
    with tool_errors():
        result = await publish(state.database, event)
    return EventEmittedOut(
        queue_id=str(result.queue_id),
        event_id=event.event_id,
        event_type=event.event_type,
        accepted=result.accepted,
    )


async def get_execution(
    ctx: Context[AppState, Any],
    execution_id: Annotated[str, Field(max_length=100, description="From list_executions")],
) -> ExecutionOut:
    """One workflow execution: status, platform and routing decision, timing, retries, the
    error (step and message) if it failed, and each step's status and output. Next:
    retry_execution for a failed one."""
    state, caller = await tenant_of(ctx)
    return _execution(
        await _tenant_execution(state, caller.tenant_id, execution_id), with_state=True
    )


async def _tenant_execution(
    state: AppState, tenant_id: uuid.UUID, execution_id: str
) -> ExecutionRecord:
    parse_uuid(execution_id, "execution", EXECUTION_HINT)
    with tool_errors():
        try:
            return await load_tenant_execution(state.database, tenant_id, execution_id)
        except NotFoundError:
            raise ToolError(
                f"execution {execution_id} is not in this workspace; {EXECUTION_HINT}"
            ) from None


async def list_executions(
    ctx: Context[AppState, Any],
    workflow: Annotated[str | None, Field(max_length=200, description="Workflow name")] = None,
    platform: Annotated[
        str | None, Field(max_length=20, description="internal, n8n or make (where it ran)")
    ] = None,
    status: Annotated[str | None, Field(description=f"One of {', '.join(STATUSES)}")] = None,
    since: Annotated[datetime | None, Field(description="Started at or after (ISO)")] = None,
    until: Annotated[datetime | None, Field(description="Started before (ISO)")] = None,
    limit: Annotated[int, Field(ge=1, le=200, description="At most this many")] = 50,
) -> ExecutionListOut:
    """Workflow executions, newest first, filtered by workflow name, platform, status and
    start time. Failed ones carry their error's step and message. Next: get_execution for one
    execution's steps, retry_execution to run a failed one again."""
    if status is not None and status not in STATUSES:
        raise ToolError(f"status must be one of {', '.join(STATUSES)}, not '{status[:30]}'")
    state, caller = await tenant_of(ctx)
    x, w = workflow_executions, workflow_definitions
    query = (
        sa.select(x.c.id)
        .select_from(x.outerjoin(w, w.c.id == x.c.workflow_definition_id))
        .where(x.c.tenant_id == caller.tenant_id)
    )
    if workflow is not None:
        query = query.where(w.c.name == workflow)
    if platform is not None:
        query = query.where(x.c.execution_platform == platform)
    if status is not None:
        query = query.where(x.c.status == status)
    if (start := as_utc_argument(since)) is not None:
        query = query.where(x.c.started_at >= start)
    if (end := as_utc_argument(until)) is not None:
        query = query.where(x.c.started_at < end)
    query = query.order_by(x.c.started_at.desc(), x.c.id).limit(limit)
    records: list[ExecutionRecord] = []
    with tool_errors():
        async with state.database.engine.connect() as conn:
            for execution_id in (await conn.execute(query)).scalars():
                found = await load_execution(conn, caller.tenant_id, execution_id)
                if found is not None:
                    records.append(found)
    items = [_execution(r) for r in records]

    def render(kept: Any) -> ExecutionListOut:
        kept_list = list(kept)
        return ExecutionListOut(executions=kept_list, count=len(kept_list))

    fits = fit_count(items, render, state.settings.result_budget_chars - NOTE_RESERVE)
    out = render(items[:fits])
    if fits < len(items):
        out.truncated = True
        out.truncation_note = (
            f"{len(items) - fits} older executions left out; narrow by workflow, status or "
            "since, or lower limit"
        )
    return out


async def retry_execution(
    ctx: Context[AppState, Any],
    execution_id: Annotated[str, Field(max_length=100, description="From list_executions")],
) -> RetryOut:
    """Run a failed execution again: its triggering event goes back on the queue with fresh
    attempts, and the execution resumes from its last finished step. Only a failed (or
    completed) event can be re-queued. Next: get_execution to follow it."""
    state, caller = await tenant_of(ctx)
    record = await _tenant_execution(state, caller.tenant_id, execution_id)
    if record.trigger_event_id is None:
        raise ToolError(
            f"execution {execution_id} has no triggering event to re-queue; trigger_workflow "
            "starts a new run"
        )
    store = SqlQueueStore(state.database)
    try:
        event = await store.get(record.trigger_event_id)
        if event is None or event.tenant_id != caller.tenant_id:
            raise ToolError(
                f"the event that started execution {execution_id} is no longer queued (pruned "
                "after it completed); trigger_workflow starts a new run with the same input"
            )
        if event.status not in (EventStatus.FAILED.value, EventStatus.COMPLETED.value):
            raise ToolError(
                f"the event that started execution {execution_id} is {event.status}: it is "
                "still being retried; get_execution shows its progress"
            )
        with tool_errors():
            replayed = await store.replay(ids=[event.id])
    finally:
        await store.close()
    return RetryOut(
        execution_id=execution_id,
        trigger_event_id=str(record.trigger_event_id),
        requeued=replayed > 0,
        next_step="get_execution shows the new attempt once a worker picks it up",
    )


def _replay_approval(
    ctx: Context[AppState, Any], event_ids: list[str] | None = None, confirm: bool = False
) -> Any:
    if event_ids is not None and len(set(event_ids)) == 1:
        return Approval(approve=True)  # one named event: not a bulk action
    return ask_unless_confirmed(
        ctx, confirm, "Replay the dead-lettered events you asked for? Their workflows run again."
    )


_NOT_ASKED: Any = None  # filled by the resolver before the tool body runs


def _not_asked(outcome: ElicitationResult[Approval]) -> bool:
    return isinstance(outcome, AcceptedElicitation) and isinstance(outcome.data, NotAsked)


async def replay_dead_letters(
    ctx: Context[AppState, Any],
    event_ids: Annotated[
        list[str] | None,
        Field(max_length=MAX_REPLAY, description="Queue ids of dead-lettered events"),
    ] = None,
    event_type: Annotated[
        str | None, Field(max_length=64, description="Without ids: only this event type")
    ] = None,
    since: Annotated[datetime | None, Field(description="Without ids: created at or after")] = (
        None
    ),
    until: Annotated[datetime | None, Field(description="Without ids: created before")] = None,
    confirm: Annotated[
        bool, Field(description="Must be true to replay more than one event")
    ] = False,
    approval: Annotated[ElicitationResult[Approval], Resolve(_replay_approval)] = _NOT_ASKED,
) -> ReplayOut:
    """Queue dead-lettered (failed for good) events again with fresh attempts: the ones
    named by `event_ids`, or, without ids, every dead letter matching event_type / since /
    until. Replaying more than one event needs `confirm: true`; without it the answer says
    how many would be replayed and replays nothing."""
    state, caller = await tenant_of(ctx)
    store = SqlQueueStore(state.database)
    try:
        selected = await _select_dead_letters(
            store,
            caller.tenant_id,
            event_ids,
            event_type,
            as_utc_argument(since),
            as_utc_argument(until),
        )
        ids = [e.id for e in selected]
        shown = [str(i) for i in ids[:100]]
        if not ids:
            return ReplayOut(
                replayed=0, matched=0, confirmed=confirm, next_step="no dead letters match"
            )
        if len(ids) > 1 and not approved(approval):
            return ReplayOut(
                replayed=0,
                matched=len(ids),
                confirmed=False,
                event_ids=shown,
                next_step=(
                    f"{len(ids)} dead-lettered events match; nothing was replayed. Tell the "
                    "user, and call again with the same arguments and confirm: true"
                    if _not_asked(approval)
                    else f"the user did not approve replaying {len(ids)} events; nothing was "
                    "replayed"
                ),
            )
        with tool_errors():
            replayed = await store.replay(ids=ids)
    finally:
        await store.close()
    return ReplayOut(
        replayed=replayed,
        matched=len(ids),
        confirmed=approved(approval),
        event_ids=shown,
        next_step="list_executions shows the runs they start",
    )


async def _select_dead_letters(
    store: SqlQueueStore,
    tenant_id: uuid.UUID,
    event_ids: list[str] | None,
    event_type: str | None,
    since: datetime | None,
    until: datetime | None,
) -> list[QueuedEvent]:
    hint = "list_executions or the dashboard's dead letters show queue ids"
    if event_ids:
        if event_type or since or until:
            raise ToolError("give either event_ids or a filter (event_type, since, until)")
        found: list[QueuedEvent] = []
        for raw in dict.fromkeys(event_ids):
            event = await store.get(parse_uuid(raw, "queued event", hint))
            if event is None or event.tenant_id != tenant_id:
                raise ToolError(f"event {raw} is not in this workspace; {hint}")
            if event.status != EventStatus.FAILED.value:
                raise ToolError(
                    f"event {raw} is {event.status}, not dead-lettered; only failed events "
                    "are replayed here (retry_execution re-runs a completed one's execution)"
                )
            found.append(event)
        return found
    where = ReplayFilter(event_type=event_type, tenant_id=tenant_id, since=since, until=until)
    candidates = await store.list_events(
        tenant_id=tenant_id, status=EventStatus.FAILED.value, event_type=event_type,
        limit=MAX_REPLAY,
    )  # fmt: skip
    return [
        e
        for e in candidates
        if e.created_at is not None
        and (where.since is None or e.created_at >= where.since)
        and (where.until is None or e.created_at < where.until)
    ]


RUN_TOOLS = [
    ToolSpec(fn=emit_event, title="Emit a lifecycle event", access=ToolAccess.WRITE,
             annotations=RUNS),
    ToolSpec(fn=get_execution, title="Get one execution", access=ToolAccess.READ,
             annotations=READ, fenced=True),
    ToolSpec(fn=list_executions, title="List executions", access=ToolAccess.READ,
             annotations=READ, fenced=True),
    ToolSpec(fn=retry_execution, title="Retry a failed execution", access=ToolAccess.WRITE,
             annotations=RUNS),
    ToolSpec(fn=replay_dead_letters, title="Replay dead-lettered events",
             access=ToolAccess.WRITE, annotations=RUNS),
]  # fmt: skip
