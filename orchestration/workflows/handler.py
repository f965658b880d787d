"""The worker's EventHandler for workflows: match, start or resume executions, answer.

Per claimed event: each matching active definition gets one execution (found again on a
redelivery, so it resumes instead of starting over); a `workflow_resume` event continues a
parked execution. The answer to the queue:

- RETRY when an execution hit a transient failure and attempts remain (retry_at from the
  definition's retry_policy), FAILED when one failed for good (bad data, last attempt),
  COMPLETED otherwise (a parked execution holds no worker: its event is done).
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from orchestration.events.publish import MAX_CHAIN_DEPTH
from orchestration.execution_journal import ExecutionJournal
from orchestration.executions import ExecutionRecord, load_execution
from orchestration.platforms.http_audit import outbound_caller
from orchestration.queue.types import ClaimedEvent, HandlerOutcome, OutcomeKind
from orchestration.workflows.actions.base import FollowUpPublisher
from orchestration.workflows.definition import RetryPolicy
from orchestration.workflows.definition_cache import DefinitionCache
from orchestration.workflows.engine import RunPlan, RunResult, StepEngine
from orchestration.workflows.matching import match_event
from orchestration.workflows.publishing import RESUME_EVENT_TYPE, QueuePublisher
from orchestration.workflows.services import Services
from orchestration.workflows.store import StoredDefinition
from shared.db.database import Database
from shared.db.types import utcnow

__all__ = [
    "PlatformDispatch",
    "Router",
    "WorkflowEventHandler",
    "internal_routing",
    "retry_at",
]

log = logging.getLogger(__name__)

Router = Callable[[StoredDefinition], dict[str, Any]]


class PlatformDispatch(Protocol):
    """Runs an execution where routing says (orchestration.runtime.routing): on a platform,
    or through `run_internal`, recording the decision in the execution's `routing`."""

    async def __call__(
        self,
        stored: StoredDefinition,
        event: ClaimedEvent,
        execution: ExecutionRecord,
        run_internal: Callable[[], Awaitable[RunResult]],
        *,
        last_attempt: bool,
    ) -> RunResult: ...


_rng = random.SystemRandom()


def internal_routing(stored: StoredDefinition) -> dict[str, Any]:
    """Until platform routing exists, every definition runs on the internal engine."""
    primary = stored.definition.primary_platform
    reason = (
        "primary platform is internal"
        if primary == "internal"
        else f"primary platform {primary} is not routed by this worker; internal engine used"
    )
    return {"platform": "internal", "reason": reason}


def retry_at(policy: RetryPolicy, attempt: int, now: datetime) -> datetime:
    """Exponential backoff from the definition's policy; with jitter, uniform in [d/2, d]."""
    ceiling = min(
        policy.max_delay_seconds,
        policy.initial_delay_seconds * policy.multiplier ** min(max(attempt - 1, 0), 60),
    )
    delay = _rng.uniform(ceiling / 2, ceiling) if policy.jitter else ceiling
    return now + timedelta(seconds=delay)


@dataclass(frozen=True)
class _Prepared:
    """What every execution of one loaded definition starts from, made once for it."""

    stored: StoredDefinition  # kept: its id() is the cache key
    plan: RunPlan
    state_head: dict[str, Any]  # step_state's first keys; shared: copied into each state
    actor: str  # who the run's platform calls are audited as

    @classmethod
    def of(cls, stored: StoredDefinition) -> _Prepared:
        run_plan = stored.run_plan
        head = {"workflow_name": stored.definition.name, "workflow_id": str(stored.id), **run_plan}
        return cls(stored, RunPlan.from_state(run_plan), head, f"workflow:{stored.definition.name}")


_PREPARED_KEPT = 512  # definitions prepared; more (reloads over a long run) start afresh


@dataclass(frozen=True)
class _Ran:
    workflow: str
    execution_id: uuid.UUID
    version: int | None
    result: RunResult
    policy: RetryPolicy
    row: dict[str, Any] | None = None  # never written: goes with the event's acknowledgement


class WorkflowEventHandler:
    """Implements orchestration.queue.types.EventHandler."""

    def __init__(
        self,
        db: Database,
        services: Services | None = None,
        *,
        publisher: FollowUpPublisher | None = None,
        router: Router = internal_routing,
        dispatch: PlatformDispatch | None = None,
        max_chain_depth: int = MAX_CHAIN_DEPTH,
        journal: ExecutionJournal | None = None,
        definitions: DefinitionCache | None = None,
    ) -> None:
        """`dispatch` routes each new run to its platform (n8n, Make, internal) with
        failover; without it every execution runs on the internal engine. Give `dispatch`
        the same `journal`: the executions' writes are grouped per journal."""
        self.db = db
        self.router = router
        self.dispatch = dispatch
        self.journal = journal or ExecutionJournal(db)
        self.definitions = definitions or DefinitionCache(db)
        self._prepared: dict[int, _Prepared] = {}  # by id() of the loaded definition
        self.engine = StepEngine(
            db,
            services or Services(),
            publisher or QueuePublisher(db),
            max_chain_depth=max_chain_depth,
            journal=self.journal,
        )

    async def __call__(self, event: ClaimedEvent) -> HandlerOutcome:
        if event.event_type == RESUME_EVENT_TYPE:
            return await self._resume(event)
        active = await self.definitions.active(event.tenant_id, event.created_at)
        match = match_event(active, event)
        ran = [await self._run(stored, event) for stored in match.matched]
        refused = [{"workflow": name, "reason": reason} for name, reason in match.refused]
        outcome = self._outcome(event, ran, refused)
        if outcome.kind is not OutcomeKind.COMPLETED:  # on record before the queue hears
            rows = [r.row for r in ran if r.row is not None]
            if rows:
                await self.journal.insert(rows)
        return outcome

    def _prepare(self, stored: StoredDefinition) -> _Prepared:
        found = self._prepared.get(id(stored))
        if found is None or found.stored is not stored:
            if len(self._prepared) >= _PREPARED_KEPT:
                self._prepared.clear()
            found = self._prepared[id(stored)] = _Prepared.of(stored)
        return found

    async def _run(self, stored: StoredDefinition, event: ClaimedEvent) -> _Ran:
        definition = stored.definition
        prepared = self._prepare(stored)
        plan: RunPlan | None = None  # a resumed execution runs the plan it recorded
        execution = (
            await self.journal.find(event.id, stored.id) if event.may_have_executions else None
        )
        if execution is None:
            plan = prepared.plan
            execution = self.journal.start(
                workflow_definition_id=stored.id,
                tenant_id=stored.tenant_id,
                trigger_event_id=event.id,
                execution_platform="internal",
                customer_id=_uuid_or_none(event.customer_id),
                status="running",
                started_at=utcnow(),
                workflow_version=stored.version,
                routing=self.router(stored),
                retry_count=0,
                external_api_calls=0,
                step_state={**prepared.state_head, "event": _snapshot(event), "steps": {}},
            )
        policy = definition.retry_policy
        row: dict[str, Any] | None = None
        if execution.status == "completed":
            result = RunResult("completed")
        else:
            last = event.is_last_attempt or event.attempts >= policy.max_attempts
            started = execution  # the closure's own name: a captured variable is not narrowed

            async def run_internal() -> RunResult:
                return await self.engine.run(started, event, last_attempt=last, plan=plan)

            # Platform calls made by this run (steps or routing) are audited as the workflow's.
            with outbound_caller(prepared.actor, execution_id=str(execution.id)):
                try:
                    if self.dispatch is None:
                        result = await run_internal()
                    else:
                        result = await self.dispatch(
                            stored, event, execution, run_internal, last_attempt=last
                        )
                except BaseException:
                    # A run cut short writes none of its pending values (its redelivery
                    # starts again).
                    self.journal.discard(execution.id)
                    raise
                # Its pending values are written before the queue hears the outcome, or
                # (a row never written) with the acknowledgement.
                row = await self.journal.hand_over(execution.id)
        return _Ran(definition.name, execution.id, execution.workflow_version, result, policy, row)

    @asynccontextmanager
    async def _committed(self, execution_id: uuid.UUID) -> AsyncGenerator[None]:
        """The execution's pending values are written before the queue hears the outcome;
        a run cut short writes none (its redelivery starts again)."""
        try:
            yield
        except BaseException:
            self.journal.discard(execution_id)
            raise
        await self.journal.commit(execution_id)

    async def _resume(self, event: ClaimedEvent) -> HandlerOutcome:
        raw_id, step = event.event_data.get("execution_id"), event.event_data.get("step")
        try:
            execution_id = uuid.UUID(str(raw_id))
        except ValueError:
            return _failed(f"resume event {event.id} names no execution id", [])
        async with self.db.engine.connect() as conn:
            execution = await load_execution(conn, event.tenant_id, execution_id)
        if execution is None:
            return _failed(f"execution {execution_id} to resume does not exist", [])
        policy = RetryPolicy.model_validate(execution.step_state.get("retry_policy") or {})
        if execution.status in ("completed", "failed"):
            result = RunResult("completed" if execution.status == "completed" else "failed")
        else:
            original = _event_from_snapshot(execution, event)
            last = event.is_last_attempt or event.attempts >= policy.max_attempts
            actor = f"workflow:{execution.workflow_name or execution.id}"
            with outbound_caller(actor, execution_id=str(execution.id)):
                async with self._committed(execution.id):
                    result = await self.engine.run(
                        execution, original, resumed_step=str(step), last_attempt=last
                    )
        ran = _Ran(
            execution.workflow_name or "", execution.id, execution.workflow_version, result, policy
        )
        return self._outcome(event, [ran], [])

    def _outcome(
        self, event: ClaimedEvent, ran: list[_Ran], refused: list[dict[str, str]]
    ) -> HandlerOutcome:
        summary = [
            {
                "workflow": r.workflow,
                "execution_id": str(r.execution_id),
                "version": r.version,
                "status": r.result.status,
            }
            for r in ran
        ]
        retrying = [r for r in ran if r.result.status == "retrying"]
        failed = [r for r in ran if r.result.status == "failed"]
        if retrying:
            when = min(retry_at(r.policy, event.attempts, utcnow()) for r in retrying)
            errors = [{"workflow": r.workflow, **(r.result.error or {})} for r in retrying]
            return HandlerOutcome(
                OutcomeKind.RETRY,
                result={"executions": summary},
                error={"message": _first_message(errors), "executions": errors},
                retry_at=when,
            )
        if failed or refused:
            # Data no trigger condition can read is as much a failure as a failed step: the
            # event is dead-lettered where an operator sees it, not silently dropped.
            errors = [{"workflow": r.workflow, **(r.result.error or {})} for r in failed]
            message = (
                _first_message(errors)
                if errors
                else f"trigger condition of '{refused[0]['workflow']}': {refused[0]['reason']}"
            )
            return HandlerOutcome(
                OutcomeKind.FAILED,
                result={"executions": summary, "refused": refused},
                error={"message": message, "executions": errors, "refused": refused},
            )
        # Executions never written are inserted by the statement that completes the event:
        # one write, not two, and the event is done exactly when they are on record.
        return HandlerOutcome(
            OutcomeKind.COMPLETED,
            result={"executions": summary},
            executions=tuple(r.row for r in ran if r.row is not None),
        )


def _first_message(errors: list[dict[str, Any]]) -> str:
    first = errors[0]
    return f"{first.get('workflow')}: step '{first.get('step')}': {first.get('message')}"


def _failed(message: str, executions: list[dict[str, Any]]) -> HandlerOutcome:
    log.warning(message)
    return HandlerOutcome(OutcomeKind.FAILED, error={"message": message})


def _uuid_or_none(value: str | None) -> uuid.UUID | None:
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None  # a CRM's own customer ids need not be uuids; the snapshot keeps it


def _snapshot(event: ClaimedEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "event_type": event.event_type,
        "event_data": event.event_data,
        "event_source": event.event_source,
        "customer_id": event.customer_id,
        "chain_depth": event.chain_depth,
        "created_at": event.created_at.isoformat(),
    }


def _event_from_snapshot(execution: ExecutionRecord, resume: ClaimedEvent) -> ClaimedEvent:
    """The execution's triggering event, as steps saw it, delivered by the resume event."""
    saved: dict[str, Any] = execution.step_state.get("event") or {}
    return ClaimedEvent(
        id=execution.trigger_event_id or resume.id,
        tenant_id=execution.tenant_id,
        event_id=str(saved.get("event_id", resume.event_id)),
        event_type=str(saved.get("event_type", resume.event_type)),
        event_data=dict(saved.get("event_data") or {}),
        event_source=saved.get("event_source"),
        customer_id=saved.get("customer_id"),
        priority=resume.priority,
        attempts=resume.attempts,
        max_retries=resume.max_retries,
        chain_depth=int(saved.get("chain_depth", resume.chain_depth)),
        workflow_triggers=None,
        created_at=datetime.fromisoformat(saved["created_at"])
        if "created_at" in saved
        else resume.created_at,
        scheduled_for=resume.scheduled_for,
    )
