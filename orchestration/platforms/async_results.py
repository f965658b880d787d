"""Platform runs that were still going on when their webhook or API call answered, read back
into `workflow_executions`.

An n8n webhook that answers `{"status": "running", "executionId"}` (or n8n's own "Workflow
was started"), and a Make responsive run that passed Make's 40 s limit, leave the execution
`running` with the platform's execution id, routed to that platform (`routing.ran_on`); the
event itself is done. Two paths finish such an execution, whichever comes first:

- the poller (`poll_platform_runs`, in every worker's background loops): reads n8n's
  `GET /executions/{id}?includeData=true` (or, with no id, finds the run by the idempotency
  key in its Webhook node's body) and Make's `GET /scenarios/{id}/executions/{executionId}`,
  and completes or fails the execution with the mapped result. It needs nothing from the
  platform but its API, so it works with any n8n and any Make scenario;
- the callback: a workflow posts `n8n_execution_finished` (or `make_execution_finished`)
  to our signed webhook (`POST /webhooks/n8n?tenant=...` or `/webhooks/make`, HMAC as for
  every sender we configure); the worker applies it (`apply_callback`) when the event came
  in through that platform's webhook. Faster than a poll, and the only
  way to hear about a Make webhook run that was only "Accepted" (Make gives no id for it).

Both write through `finish_platform_run`, which changes only an execution that is still
`running` on that platform, so the two never both apply and a late one changes nothing.
A run with no answer after `give_up_after_s` is failed with a message saying where to look.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa

from orchestration.platforms.base import ResultStatus, WorkflowResult
from orchestration.platforms.errors import PlatformError, PlatformNotFoundError
from orchestration.platforms.jsonshape import as_dict, text
from orchestration.platforms.make import MakeAdapter
from orchestration.platforms.n8n import N8nAdapter
from orchestration.platforms.n8n_executions import execution_result as n8n_result
from orchestration.platforms.tools import TenantTools
from shared.db.database import Database
from shared.db.orchestration_tables import workflow_definitions, workflow_executions
from shared.db.types import utcnow
from shared.errors import SwitchboardError

__all__ = [
    "ASYNC_PLATFORMS",
    "CALLBACK_EVENT_TYPES",
    "CallbackError",
    "PendingRun",
    "PollReport",
    "ToolsFor",
    "apply_callback",
    "finish_platform_run",
    "pending_platform_runs",
    "poll_platform_runs",
]

log = logging.getLogger(__name__)

ASYNC_PLATFORMS = ("n8n", "make")
# `<platform>_...` types are allowed for every tenant (events.custom_types): no setup needed.
CALLBACK_EVENT_TYPES = {f"{p}_execution_finished": p for p in ASYNC_PLATFORMS}
_CALLBACK_STATUS = {
    "success": ResultStatus.COMPLETED,
    "completed": ResultStatus.COMPLETED,
    "warning": ResultStatus.COMPLETED,
    "error": ResultStatus.FAILED,
    "failed": ResultStatus.FAILED,
}
_x = workflow_executions
ToolsFor = Callable[[uuid.UUID], Awaitable[TenantTools]]


class CallbackError(SwitchboardError):
    """A callback that cannot be applied (unknown execution, bad status): says which."""


@dataclass(frozen=True)
class PendingRun:
    execution_id: uuid.UUID
    tenant_id: uuid.UUID
    platform: str
    started_at: datetime | None
    external_execution_id: str | None
    idempotency_key: str | None
    platform_refs: dict[str, Any]


@dataclass
class PollReport:
    checked: int = 0
    completed: int = 0
    failed: int = 0
    still_running: int = 0
    unreachable: int = 0  # the platform could not be asked this round


async def pending_platform_runs(db: Database, *, limit: int = 100) -> list[PendingRun]:
    """Executions still `running` on n8n or Make, oldest first."""
    d = workflow_definitions
    query = (
        sa.select(
            _x.c.id,
            _x.c.tenant_id,
            _x.c.execution_platform,
            _x.c.started_at,
            _x.c.execution_result,
            d.c.platform_refs,
        )
        .outerjoin(d, d.c.id == _x.c.workflow_definition_id)
        .where(_x.c.status == "running", _x.c.execution_platform.in_(ASYNC_PLATFORMS))
        .order_by(_x.c.started_at, _x.c.id)
        .limit(limit)
    )
    async with db.engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    found: list[PendingRun] = []
    for row in rows:
        result = as_dict(row["execution_result"])
        platform = str(row["execution_platform"])
        found.append(
            PendingRun(
                execution_id=row["id"],
                tenant_id=row["tenant_id"],
                platform=platform,
                started_at=row["started_at"],
                external_execution_id=text(result.get("external_execution_id")),
                idempotency_key=text(as_dict(result.get("output")).get("idempotency_key")),
                platform_refs=as_dict(as_dict(row["platform_refs"]).get(platform)),
            )
        )
    return found


async def finish_platform_run(
    db: Database,
    execution_id: uuid.UUID,
    result: WorkflowResult,
    *,
    tenant_id: uuid.UUID | None = None,
    completed_by: str,
) -> bool:
    """Complete or fail an execution still `running` on `result.platform`; False (and no
    change) when it is not, e.g. the other path finished it first."""
    if result.status is ResultStatus.RUNNING:
        return False
    conditions = [
        _x.c.id == execution_id,
        _x.c.status == "running",
        _x.c.execution_platform == result.platform,
    ]
    if tenant_id is not None:
        conditions.append(_x.c.tenant_id == tenant_id)
    async with db.transaction() as conn:
        query = sa.select(_x.c.started_at, _x.c.external_api_calls).where(*conditions)
        row = (await conn.execute(query)).mappings().first()
        if row is None:
            return False
        now = utcnow()
        started = cast(datetime | None, row["started_at"])
        recorded: dict[str, Any] = {"output": result.output, "completed_by": completed_by}
        if result.external_execution_id is not None:
            recorded["external_execution_id"] = result.external_execution_id
        failed = result.status is ResultStatus.FAILED
        error = (
            {
                "step": result.platform,
                "message": str((result.error or {}).get("message") or "the workflow failed"),
                "transient": False,
                "platform": result.platform,
            }
            if failed
            else None
        )
        updated = await conn.execute(
            sa.update(_x)
            .where(*conditions)
            .values(
                status=result.status.value,
                execution_result=recorded,
                error_details=error,
                completed_at=now,
                execution_time_ms=(
                    int((now - started).total_seconds() * 1000) if started is not None else None
                ),
                external_api_calls=int(row["external_api_calls"] or 0) + result.api_calls,
            )
        )
    return updated.rowcount == 1


async def _read_back(run: PendingRun, tools: TenantTools) -> WorkflowResult | None:
    """The run's result as the platform reports it now (RUNNING while it goes on), or None
    when there is nothing to ask (no adapter, or no id to ask about)."""
    adapter = tools.adapters.get(run.platform)
    if isinstance(adapter, N8nAdapter):
        calls = adapter.http.counter.calls
        if run.external_execution_id:
            try:
                found = await adapter.get_execution(run.external_execution_id, include_data=True)
            except PlatformNotFoundError:  # saved asynchronously: not there yet
                return None
        else:
            workflow_id = text(run.platform_refs.get("workflow_id"))
            if not workflow_id or not run.idempotency_key:
                return None
            found = await adapter.find_execution(workflow_id, run.idempotency_key)
            if found is None:
                return None
        result = n8n_result(found)
        return _with_calls(result, adapter.http.counter.calls - calls)
    if isinstance(adapter, MakeAdapter):
        scenario = run.platform_refs.get("scenario_id")
        if not run.external_execution_id or scenario is None:
            return None  # a webhook run Make only "Accepted": the callback reports it
        calls = adapter.http.counter.calls
        found = await adapter.get_execution(int(scenario), run.external_execution_id)
        result = adapter.execution_result(found, run.external_execution_id)
        return _with_calls(result, adapter.http.counter.calls - calls)
    return None


def _with_calls(result: WorkflowResult, calls: int) -> WorkflowResult:
    return WorkflowResult(
        platform=result.platform,
        status=result.status,
        output=result.output,
        external_execution_id=result.external_execution_id,
        error=result.error,
        api_calls=calls,
    )


async def poll_platform_runs(
    db: Database,
    tools_for: ToolsFor,
    *,
    give_up_after_s: float = 24 * 3600,
    limit: int = 100,
) -> PollReport:
    """One pass over the executions still running on a platform."""
    report = PollReport()
    now = utcnow()
    for run in await pending_platform_runs(db, limit=limit):
        report.checked += 1
        result: WorkflowResult | None = None
        try:
            result = await _read_back(run, await tools_for(run.tenant_id))
        except PlatformError as exc:  # down, rate-limited, or the id is unknown there
            log.info("could not read %s execution %s back: %s", run.platform, run.execution_id, exc)
            report.unreachable += 1
        except SwitchboardError as exc:  # no secret key, or credentials it cannot open
            log.warning("no %s tools for tenant %s: %s", run.platform, run.tenant_id, exc)
            report.unreachable += 1
        if result is None or result.status is ResultStatus.RUNNING:
            # Unanswered for too long (even if the platform stopped answering): give up.
            overdue = run.started_at is not None and now - run.started_at > timedelta(
                seconds=give_up_after_s
            )
            if not overdue:
                report.still_running += 1
                continue
            result = _gave_up(run, give_up_after_s)
        if await finish_platform_run(db, run.execution_id, result, completed_by="poller"):
            if result.status is ResultStatus.COMPLETED:
                report.completed += 1
            else:
                report.failed += 1
    return report


def _gave_up(run: PendingRun, waited_s: float) -> WorkflowResult:
    where = f"execution {run.external_execution_id}" if run.external_execution_id else "its history"
    return WorkflowResult(
        platform=run.platform,
        status=ResultStatus.FAILED,
        external_execution_id=run.external_execution_id,
        error={
            "message": f"{run.platform} reported no result within {int(waited_s)}s; "
            f"check {where} in {run.platform}"
        },
    )


async def apply_callback(
    db: Database, tenant_id: uuid.UUID, platform: str, data: Mapping[str, Any]
) -> bool:
    """Apply an `<platform>_execution_finished` event (its `eventData`:
    `execution_id` (ours, sent in every run's payload), `status` success|error, `result`,
    optional `error.message`, `external_execution_id`). True when it finished the execution;
    False when it was already finished. CallbackError when the data is unusable."""
    if platform not in ASYNC_PLATFORMS:
        raise CallbackError(f"{platform} cannot report executions; only {ASYNC_PLATFORMS}")
    try:
        execution_id = uuid.UUID(str(data.get("execution_id")))
    except ValueError:
        raise CallbackError(
            "eventData.execution_id must be the execution_id Switchboard sent in the run's payload"
        ) from None
    status = _CALLBACK_STATUS.get(str(data.get("status", "")).lower())
    if status is None:
        raise CallbackError(
            f"eventData.status must be one of {', '.join(sorted(_CALLBACK_STATUS))}"
        )
    error = as_dict(data.get("error"))
    raw = data.get("result")
    result = WorkflowResult(
        platform=platform,
        status=status,
        output={"result": raw} if not isinstance(raw, dict) else cast(dict[str, Any], raw),
        external_execution_id=text(data.get("external_execution_id")),
        error=(
            {"message": text(error.get("message")) or f"{platform} reported the run failed"}
            if status is ResultStatus.FAILED
            else None
        ),
    )
    return await finish_platform_run(
        db, execution_id, result, tenant_id=tenant_id, completed_by="callback"
    )
