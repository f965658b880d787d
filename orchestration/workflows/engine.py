"""The internal step engine: runs an execution's steps in order, checkpointing each result.

Durability: a side-effecting step's output is written to workflow_executions.step_state
before the next step starts, and what it runs with is written before it starts. Running an
execution again (after a crash, a retry or a `wait`) skips every step already recorded, so
a completed side-effecting step is never repeated; a step that was running when the process
died runs again with the same idempotency key, which the external service uses to refuse a
duplicate. A pure step's output (query, analyze, noop...) waits for the execution's next
write (orchestration.execution_journal): a crash before it only means computing it again.
So does the final state, which the caller commits.

A `wait` step parks the execution (status 'waiting', resume_at) and, in the same
transaction, queues a `workflow_resume` event scheduled for that time: no worker is held
and a restart loses nothing.

What is constant about a definition's steps is worked out once per plan
(orchestration.workflows.run_plan); what a condition or `{{ }}` sees comes from
orchestration.workflows.scope; an action runs, and its failures are sorted, in
orchestration.workflows.step_runner.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psutil
from pydantic import ValidationError

from orchestration.events.models import CustomerEvent, EventPriority
from orchestration.events.publish import MAX_CHAIN_DEPTH
from orchestration.execution_journal import ExecutionJournal
from orchestration.executions import ExecutionRecord, update_execution
from orchestration.queue.types import ClaimedEvent
from orchestration.workflows.actions import ACTIONS
from orchestration.workflows.actions.base import (
    ActionSpec,
    FollowUpPublisher,
    StepContext,
    idempotency_key,
)
from orchestration.workflows.actions.flow import WaitFields, wait_until
from orchestration.workflows.errors import ConditionError, StepFailedError, TemplateError
from orchestration.workflows.publishing import RESUME_EVENT_TYPE
from orchestration.workflows.run_plan import PlannedStep, RunPlan, condition_of
from orchestration.workflows.scope import build_scope
from orchestration.workflows.services import Services
from orchestration.workflows.step_runner import StepFailure, describe_validation, perform
from orchestration.workflows.templating import render
from shared.db.database import Database
from shared.db.types import utcnow

__all__ = [
    "RunPlan",
    "RunResult",
    "StepEngine",
    "build_scope",
    "condition_of",
    "idempotency_key",
]

RunStatus = Literal["completed", "failed", "retrying", "waiting"]


@dataclass(frozen=True)
class RunResult:
    status: RunStatus
    error: dict[str, Any] | None = None
    resume_at: datetime | None = None


_COMPLETED = RunResult("completed")  # one for every completed run: a RunResult never changes


def _open(record: dict[str, Any]) -> bool:
    """A step record that is not final: only a parked `wait` is recorded unfinished."""
    return record.get("status") == "waiting"


_process = psutil.Process()
_rss_sample: tuple[float, float] = (-1.0, 0.0)  # (monotonic time, MB)


def _memory_mb() -> float:
    """The worker's resident memory, read at most once a second: it is the process's, not
    the execution's, and reading it costs a system call per checkpoint otherwise."""
    global _rss_sample
    now = time.monotonic()
    if now - _rss_sample[0] >= 1.0:
        _rss_sample = (now, round(_process.memory_info().rss / (1024 * 1024), 2))
    return _rss_sample[1]


class StepEngine:
    def __init__(
        self,
        db: Database,
        services: Services,
        publisher: FollowUpPublisher,
        *,
        max_chain_depth: int = MAX_CHAIN_DEPTH,
        journal: ExecutionJournal | None = None,
    ) -> None:
        self.db = db
        self.services = services
        self.publisher = publisher
        self.max_chain_depth = max_chain_depth
        self.journal = journal or ExecutionJournal(db)

    async def run(
        self,
        execution: ExecutionRecord,
        event: ClaimedEvent,
        *,
        resumed_step: str | None = None,
        last_attempt: bool = False,
        plan: RunPlan | None = None,
    ) -> RunResult:
        """Run (or continue) `execution` for its triggering `event`.

        `resumed_step` is the key of the `wait` step whose resume event has arrived.
        With `last_attempt`, a transient failure fails the execution instead of 'retrying'.
        `plan` is the execution's step_state plan already parsed (the handler parses a
        definition's once, for every execution it starts); without it, it is parsed here.
        Only a BaseException (a crash, a cancellation) escapes.
        """
        started = time.monotonic()
        # A copy to change: its own `steps`; the rest (plan, event snapshot) is only read.
        # Step records are replaced, never changed in place.
        state: dict[str, Any] = dict(execution.step_state)
        records: dict[str, dict[str, Any]] = dict(state.get("steps") or {})
        state["steps"] = records
        if plan is None:
            plan = RunPlan.from_state(state)
        planned, error_handling = plan.planned, plan.error_handling
        outputs = {k: r.get("output") for k, r in records.items() if r["status"] == "completed"}
        totals = {"api_calls": execution.external_api_calls}
        # Recorded at start: the definition row may be deleted while an execution waits.
        workflow_id = execution.workflow_definition_id or uuid.UUID(
            str(state.get("workflow_id") or execution.id)
        )
        if records:  # a rerun: its first unfinished step may be a parked wait
            unfinished = (s for s in plan.steps if s.key not in records or _open(records[s.key]))
            pending = next(unfinished, None)
            if pending is not None and pending.key in records and resumed_step != pending.key:
                # Parked, and this is not its resume event (a redelivered trigger): the
                # resume event is already queued, so there is nothing to do.
                return RunResult("waiting", resume_at=execution.resume_at)
        if execution.status != "running":
            await self._write(
                execution, state, totals, started, wait=False, status="running", resume_at=None
            )

        last_index = len(planned) - 1
        for index, planned_step in enumerate(planned):
            step = planned_step.step
            record = records.get(step.key)
            if record is not None and record["status"] in ("completed", "skipped", "failed"):
                continue
            if record is not None and record["status"] == "waiting":  # its resume event came
                records[step.key] = {
                    "status": "completed",
                    "output": {"waited_until": record.get("resume_at")},
                    "finished_at": utcnow().isoformat(),
                }
                outputs[step.key] = records[step.key]["output"]
                await self._write(execution, state, totals, started, wait=False)
                continue
            ctx: StepContext | None = None
            try:
                # Not registered in this worker: a KeyError, as it always was.
                action = planned_step.action or ACTIONS[step.action]
                ctx, fields, run_it = self._prepare(
                    execution, workflow_id, event, planned_step, action, outputs
                )
                if not run_it:
                    records[step.key] = {"status": "skipped", "finished_at": utcnow().isoformat()}
                    await self._write(execution, state, totals, started, wait=False)
                    continue
                if step.action == "wait":
                    assert isinstance(fields, WaitFields)
                    return await self._park(execution, state, totals, started, ctx, fields)
                side_effecting = action.side_effecting
                if side_effecting:  # what it runs with, and that it started, are on record
                    await self.journal.commit(execution.id)
                output = await perform(ctx, action, fields)
            except StepFailure as failure:
                if ctx is not None:
                    totals["api_calls"] += ctx.api_calls
                error = {
                    "step": step.name,
                    "step_key": step.key,
                    "action": step.action,
                    "message": str(failure),
                    "transient": failure.transient,
                    "at": utcnow().isoformat(),
                }
                if not failure.transient and error_handling.on_step_failure == "continue":
                    records[step.key] = {"status": "failed", "error": error}
                    await self._write(execution, state, totals, started)
                    continue
                return await self._fail(execution, state, totals, started, error, last_attempt)
            totals["api_calls"] += ctx.api_calls
            records[step.key] = {
                "status": "completed",
                "output": output,
                "finished_at": utcnow().isoformat(),
            }
            outputs[step.key] = output
            if index < last_index:  # the last step's checkpoint is the completion write
                # A pure step's checkpoint waits for the next write (a rerun recomputes
                # it); a side effect's is written before anything else runs.
                await self._write(execution, state, totals, started, wait=side_effecting)

        skipped = [k for k, r in records.items() if r["status"] == "skipped"]
        failed = [k for k, r in records.items() if r["status"] == "failed"]
        # Plain JSON already: each output went through jsonable, or was read back as JSON.
        result = {"outputs": outputs, "skipped": skipped, "failed_steps": failed}
        # Written by the caller's commit (the handler's, or the router's with its record).
        await self._write(
            execution,
            state,
            totals,
            started,
            wait=False,
            status="completed",
            completed_at=utcnow(),
            execution_result=result,
            error_details=None,
            resume_at=None,
        )
        return _COMPLETED

    def _prepare(
        self,
        execution: ExecutionRecord,
        workflow_id: uuid.UUID,
        event: ClaimedEvent,
        planned: PlannedStep,
        action: ActionSpec,
        outputs: dict[str, Any],
    ) -> tuple[StepContext, Any, bool]:
        """The step's context and checked fields, and whether its condition holds."""
        step = planned.step
        # A step that reads no scope (see run_plan) is given an empty one.
        scope = build_scope(event, outputs) if planned.reads_scope else {}
        ctx = StepContext(
            db=self.db,
            tenant_id=execution.tenant_id,
            event=event,
            execution_id=execution.id,
            workflow_id=workflow_id,
            workflow_name=execution.workflow_name or "",
            workflow_version=execution.workflow_version or 1,
            step_key=step.key,
            step_name=step.name,
            outputs=outputs,
            scope=scope,
            services=self.services,
            publisher=self.publisher,
            now=utcnow(),
            max_chain_depth=self.max_chain_depth,
        )
        try:
            if step.condition is not None and not condition_of(step.condition).evaluate(scope):
                return ctx, None, False
            fields = planned.fixed_fields  # checked once for every run (see run_plan)
            if fields is None:
                fields = action.fields.model_validate(render(step.fields, scope))
        except ConditionError as exc:
            raise StepFailure(f"condition: {exc}", transient=False) from None
        except TemplateError as exc:
            raise StepFailure(str(exc), transient=False) from None
        except ValidationError as exc:
            raise StepFailure(describe_validation(exc), transient=False) from None
        return ctx, fields, True

    async def _park(
        self,
        execution: ExecutionRecord,
        state: dict[str, Any],
        totals: dict[str, int],
        started: float,
        ctx: StepContext,
        fields: WaitFields,
    ) -> RunResult:
        try:
            resume_at = wait_until(ctx, fields)
        except StepFailedError as exc:
            error = {
                "step": ctx.step_name,
                "step_key": ctx.step_key,
                "action": "wait",
                "message": str(exc),
                "transient": False,
                "at": utcnow().isoformat(),
            }
            return await self._fail(execution, state, totals, started, error, True)
        state["steps"][ctx.step_key] = {"status": "waiting", "resume_at": resume_at.isoformat()}
        resume = CustomerEvent(
            eventId=f"resume:{execution.id}:{ctx.step_key}",
            tenantId=execution.tenant_id,
            customerId=ctx.event.customer_id,
            eventType=RESUME_EVENT_TYPE,
            eventData={"execution_id": str(execution.id), "step": ctx.step_key},
            priority=EventPriority.HIGH,
        )
        await self.journal.commit(execution.id)  # the row exists for the update below
        async with self.db.transaction() as conn:
            await self.publisher(
                resume, schedule_at=resume_at, chain_depth=ctx.event.chain_depth, conn=conn
            )
            await update_execution(
                conn,
                execution.id,
                **self._progress(state, totals, started),
                status="waiting",
                resume_at=resume_at,
            )
        return RunResult("waiting", resume_at=resume_at)

    async def _fail(
        self,
        execution: ExecutionRecord,
        state: dict[str, Any],
        totals: dict[str, int],
        started: float,
        error: dict[str, Any],
        last_attempt: bool,
    ) -> RunResult:
        final = not error["transient"] or last_attempt
        await self._write(
            execution,
            state,
            totals,
            started,
            wait=False,  # written by the caller's commit
            status="failed" if final else "retrying",
            error_details=error,
            completed_at=utcnow() if final else None,
            retry_count=execution.retry_count + (0 if final else 1),
            resume_at=None,
        )
        return RunResult("failed" if final else "retrying", error=error)

    def _progress(
        self, state: dict[str, Any], totals: dict[str, int], started: float
    ) -> dict[str, Any]:
        active_ms = int(state.get("active_ms", 0)) + int((time.monotonic() - started) * 1000)
        return {
            "step_state": {**state, "active_ms": active_ms},
            "execution_time_ms": active_ms,
            "external_api_calls": totals["api_calls"],
            "memory_usage_mb": _memory_mb(),
        }

    async def _write(
        self,
        execution: ExecutionRecord,
        state: dict[str, Any],
        totals: dict[str, int],
        started: float,
        *,
        wait: bool = True,
        **values: Any,
    ) -> None:
        """Record progress: now, or with `wait=False` at the execution's next write."""
        await self.journal.update(
            execution.id, wait=wait, **self._progress(state, totals, started), **values
        )
