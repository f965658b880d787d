"""Routing an execution to n8n, Make or the internal engine, with failover, for the handler.

`PlatformDispatcher` is what `WorkflowEventHandler` calls instead of running the internal
engine directly: it chooses the candidates (`choose_platform`: the definition's primary,
its fallback, then internal), runs on the first (`execute_with_failover`), and writes the
decision, every attempt and its reason (`RoutingOutcome.routing_record()`) into the
execution's `routing`. An external run also fills the execution's platform, status,
result, API calls and duration from its `WorkflowResult`.

A platform run that is accepted but still going on (n8n "Workflow was started", Make
"Accepted") leaves the execution `running` with the platform's execution id; the event
itself is done.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from prometheus_client import Counter

from orchestration.execution_journal import ExecutionJournal
from orchestration.executions import ExecutionRecord
from orchestration.platforms.base import ExecutionContext, ResultStatus, WorkflowResult
from orchestration.platforms.errors import PlatformError
from orchestration.platforms.routing import (
    INTERNAL,
    RoutingDecision,
    choose_platform,
    execute_with_failover,
)
from orchestration.platforms.tools import TenantTools
from orchestration.queue.types import ClaimedEvent
from orchestration.runtime.tools import WorkerTools
from orchestration.workflows.engine import RunResult, idempotency_key
from orchestration.workflows.store import StoredDefinition
from shared.db.database import Database
from shared.db.orchestration_tables import workflow_definitions
from shared.db.types import utcnow
from shared.errors import SwitchboardError

__all__ = [
    "FAILOVERS",
    "ROUTED",
    "PlatformDispatcher",
    "RoutedDefinition",
    "pending_routing",
]

log = logging.getLogger(__name__)

ROUTED = Counter(
    "switchboard_workflow_executions_routed_total",
    "Workflow executions by the platform that ran them",
    ["platform"],
)
FAILOVERS = Counter(
    "switchboard_workflow_failovers_total",
    "Executions moved off a platform that could not run them",
    ["from_platform", "to_platform"],
)

_INTERNAL_STATUS = {"completed": ResultStatus.COMPLETED, "failed": ResultStatus.FAILED}
_PRIMARY_INTERNAL = "primary platform is internal"
_RESUMED_INTERNAL = "execution already started on the internal engine; resumed there"


@functools.cache
def _routed(platform: str) -> Any:
    """ROUTED's series for `platform`, looked up once (`labels()` takes a lock each time)."""
    return ROUTED.labels(platform=platform)


@dataclass(frozen=True)
class RoutedDefinition:
    """What an adapter needs of a definition (orchestration.platforms.base.PlatformDefinition)."""

    name: str
    platform_refs: Mapping[str, Any] | None


def pending_routing(stored: StoredDefinition) -> dict[str, Any]:
    """What an execution's `routing` says from its creation until the dispatcher decides."""
    definition = stored.definition
    return {
        "platform": None,
        "primary": definition.primary_platform,
        "fallback": definition.fallback_platform,
        "reason": "routing: choosing a platform",
    }


class PlatformDispatcher:
    """Implements orchestration.workflows.handler.PlatformDispatch."""

    def __init__(
        self, db: Database, tools: WorkerTools, journal: ExecutionJournal | None = None
    ) -> None:
        self.db = db
        self.tools = tools
        self.journal = journal or ExecutionJournal(db)

    async def __call__(
        self,
        stored: StoredDefinition,
        event: ClaimedEvent,
        execution: ExecutionRecord,
        run_internal: Callable[[], Awaitable[RunResult]],
        *,
        last_attempt: bool,
    ) -> RunResult:
        definition = stored.definition
        primary, fallback = definition.primary_platform, definition.fallback_platform
        ran_on = execution.routing.get("ran_on") if execution.routing else None
        if ran_on not in (None, INTERNAL) and execution.status in ("running", "completed"):
            # A redelivery of an event whose run a platform already accepted: running it
            # again anywhere would do the work twice.
            return RunResult("completed")
        if execution.step_state.get("steps") or ran_on == INTERNAL:
            # Started on the internal engine (checkpoints exist): finish there, never also
            # on a platform that has recovered meanwhile.
            return await self._internal_resumed(execution, run_internal)
        if primary == INTERNAL and fallback in (None, INTERNAL):
            return await self._internal_only(execution, run_internal, _PRIMARY_INTERNAL)

        # A platform may call back about this execution at once: its row must exist first.
        await self.journal.commit(execution.id)
        tools = await self._tools(stored.tenant_id)
        target = RoutedDefinition(definition.name, await self._refs(stored.id))
        decision = choose_platform(
            target, primary, fallback, tools.adapters, connection_status=tools.connection_status
        )
        for name in decision.skipped:
            if name in tools.unusable:  # say why it is unusable, not just "not configured"
                decision.skipped[name] = f"{name} is misconfigured: {tools.unusable[name]}"
        internal_runs: list[RunResult] = []

        async def internal() -> WorkflowResult:
            ran = await run_internal()
            internal_runs.append(ran)
            return WorkflowResult(
                platform=INTERNAL,
                status=_INTERNAL_STATUS.get(ran.status, ResultStatus.RUNNING),
                error=ran.error,
            )

        context = ExecutionContext(
            tenant_id=stored.tenant_id,
            idempotency_key=idempotency_key(
                stored.tenant_id, event.event_id, stored.id, stored.version, "platform_run"
            ),
            payload={
                **event.event_data,
                "event_id": event.event_id,
                "workflow": definition.name,
                "workflow_version": stored.version,
                "execution_id": str(execution.id),
            },
            execution_id=execution.id,
            event_type=event.event_type,
            customer_id=event.customer_id,
        )
        try:
            outcome = await execute_with_failover(
                target, context, decision, tools.adapters, internal
            )
        except PlatformError as exc:
            return await self._unrouted(execution, decision, exc, last_attempt)
        finally:
            await self.tools.record_usage(stored.tenant_id, tools)
        record = outcome.routing_record()
        _routed(outcome.result.platform).inc()
        if outcome.failed_over:
            for attempt in outcome.attempts[:-1]:
                FAILOVERS.labels(
                    from_platform=str(attempt.get("platform")), to_platform=outcome.result.platform
                ).inc()
            log.warning(
                "workflow '%s' failed over to %s: %s",
                definition.name,
                outcome.result.platform,
                "; ".join(str(a.get("error", {}).get("message")) for a in outcome.attempts[:-1]),
            )
        if outcome.result.platform == INTERNAL:
            await self._record(execution.id, routing=record)
            return internal_runs[-1]
        return await self._external(execution, outcome.result, record)

    async def _internal_resumed(
        self, execution: ExecutionRecord, run_internal: Callable[[], Awaitable[RunResult]]
    ) -> RunResult:
        """An execution the internal engine started: its record gains this attempt."""
        previous: dict[str, Any] = dict(execution.routing or {})
        if not previous:
            return await self._internal_only(execution, run_internal, _RESUMED_INTERNAL)
        result = await run_internal()
        attempt = {"platform": INTERNAL, "outcome": result.status}
        routing = {**previous, "attempts": [*previous.get("attempts", []), attempt]}
        routing["ran_on"] = INTERNAL
        _routed(INTERNAL).inc()
        await self.journal.update(execution.id, routing=routing)
        return result

    async def _internal_only(
        self,
        execution: ExecutionRecord,
        run_internal: Callable[[], Awaitable[RunResult]],
        reason: str,
    ) -> RunResult:
        """A run only the internal engine was ever a candidate for."""
        result = await run_internal()
        skipped: dict[str, str] = {}
        routing: dict[str, Any] = {
            "platform": INTERNAL,
            "order": [INTERNAL],
            "skipped": skipped,
            "reason": reason,
            "ran_on": INTERNAL,
            "attempts": [{"platform": INTERNAL, "outcome": result.status}],
            "failed_over": False,
        }
        _routed(INTERNAL).inc()
        # With the run's own values: the handler that started it writes them, or hands them
        # to the queue to insert with the event's acknowledgement.
        await self.journal.update(
            execution.id, wait=not self.journal.holds_unwritten(execution.id), routing=routing
        )
        return result

    async def _tools(self, tenant_id: uuid.UUID) -> TenantTools:
        try:
            return await self.tools.for_tenant(tenant_id)
        # No SWITCHBOARD_SECRET_KEY, or credentials no configured key opens: no platform can
        # be used, and the internal engine still can.
        except SwitchboardError as exc:
            tools = TenantTools()
            for name in ("n8n", "make"):
                tools.unusable[name] = str(exc)
            return tools

    async def _refs(self, definition_id: uuid.UUID) -> Mapping[str, Any] | None:
        t = workflow_definitions
        async with self.db.engine.connect() as conn:
            refs = await conn.scalar(sa.select(t.c.platform_refs).where(t.c.id == definition_id))
        return dict(refs) if isinstance(refs, dict) else None  # pyright: ignore[reportUnknownArgumentType]

    async def _external(
        self, execution: ExecutionRecord, result: WorkflowResult, record: dict[str, Any]
    ) -> RunResult:
        fields = result.execution_fields()
        finished = result.status is not ResultStatus.RUNNING
        await self._record(
            execution.id,
            **fields,
            routing=record,
            completed_at=utcnow() if finished else None,
            resume_at=None,
        )
        if result.status is ResultStatus.FAILED:
            error = {
                "step": result.platform,
                "message": str((result.error or {}).get("message") or "the workflow failed"),
                "transient": False,
                "platform": result.platform,
            }
            return RunResult("failed", error=error)
        return RunResult("completed")

    async def _unrouted(
        self,
        execution: ExecutionRecord,
        decision: RoutingDecision,
        exc: PlatformError,
        last_attempt: bool,
    ) -> RunResult:
        """No candidate ran it (or a timeout left the outcome unknown): retry or fail."""
        final = last_attempt or not exc.retryable
        error = {
            "step": "routing",
            "message": str(exc),
            "transient": exc.retryable,
            "platform": exc.platform,
        }
        await self._record(
            execution.id,
            status="failed" if final else "retrying",
            error_details={**error, "error": exc.to_dict()},
            routing={**decision.as_dict(), "ran_on": None, "error": exc.to_dict()},
            completed_at=utcnow() if final else None,
            retry_count=execution.retry_count + (0 if final else 1),
        )
        return RunResult("failed" if final else "retrying", error=error)

    async def _record(self, execution_id: uuid.UUID, **values: Any) -> None:
        await self.journal.update(execution_id, **values)
