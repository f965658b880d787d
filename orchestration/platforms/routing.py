"""Choosing the platform for an execution, and failing over when it cannot run there.

Candidates in order: the definition's primary, its fallback, then `internal` (the step
engine, always available where the steps can run internally). A platform is passed over
when it is not configured, lacks the capability, has no installed workflow
(`platform_refs`), its circuit is open, its last health check said down/unauthorized,
or its rate limiter has no headroom. The decision and every reason go into
`workflow_executions.routing`.

Failover at run time happens only on errors that mean the platform did not run the
workflow (unreachable, circuit open, rate-limited past the budget, webhook not
registered, credentials refused). A timeout is not failed over: the run may be going on,
and running it elsewhere too would do the work twice; it is raised for the queue to retry
with the same idempotency key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from orchestration.platforms.base import (
    ExecutionContext,
    PlatformDefinition,
    ToolCapability,
    WorkflowResult,
    platform_ref,
)
from orchestration.platforms.errors import (
    CircuitOpenError,
    PlatformAuthError,
    PlatformError,
    PlatformTimeoutError,
    PlatformUnavailableError,
    RateLimitedError,
    WebhookNotRegisteredError,
)
from orchestration.platforms.http import PlatformHttp
from orchestration.platforms.resilience import CircuitState

__all__ = [
    "INTERNAL",
    "RoutableTool",
    "RoutingDecision",
    "RoutingOutcome",
    "choose_platform",
    "execute_with_failover",
]

INTERNAL = "internal"
_NOT_RUN = (
    CircuitOpenError,
    RateLimitedError,
    PlatformUnavailableError,
    WebhookNotRegisteredError,
    PlatformAuthError,
)


class RoutableTool(Protocol):
    name: str
    capabilities: frozenset[ToolCapability]
    http: PlatformHttp

    async def execute_workflow(
        self, definition: PlatformDefinition, context: ExecutionContext
    ) -> WorkflowResult: ...


@dataclass(frozen=True)
class RoutingDecision:
    order: list[str]  # usable platforms, best first
    skipped: dict[str, str]  # platform -> why it was passed over

    @property
    def platform(self) -> str | None:
        return self.order[0] if self.order else None

    def as_dict(self) -> dict[str, Any]:
        reason = (
            f"{self.platform} is the first usable candidate"
            if self.platform
            else "no platform can run this workflow"
        )
        return {
            "platform": self.platform,
            "order": self.order,
            "skipped": self.skipped,
            "reason": reason,
        }


@dataclass
class RoutingOutcome:
    result: WorkflowResult
    decision: RoutingDecision
    attempts: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])

    @property
    def failed_over(self) -> bool:
        return len(self.attempts) > 1

    def routing_record(self) -> dict[str, Any]:
        """The `workflow_executions.routing` JSON: decision, attempts, failover flag."""
        return {
            **self.decision.as_dict(),
            "ran_on": self.result.platform,
            "attempts": self.attempts,
            "failed_over": self.failed_over,
        }


def choose_platform(
    definition: PlatformDefinition,
    primary: str,
    fallback: str | None,
    tools: Mapping[str, RoutableTool],
    *,
    connection_status: Mapping[str, str] | None = None,
    internal_allowed: bool = True,
) -> RoutingDecision:
    """The usable candidates in order, and why the others were passed over."""
    candidates: list[str] = []
    for name in (primary, fallback, INTERNAL if internal_allowed else None):
        if name and name not in candidates:
            candidates.append(name)
    order: list[str] = []
    skipped: dict[str, str] = {}
    status = connection_status or {}
    for name in candidates:
        if name == INTERNAL:
            order.append(name)
            continue
        tool = tools.get(name)
        if tool is None:
            skipped[name] = f"{name} is not configured for this tenant"
        elif ToolCapability.RUN_WORKFLOW not in tool.capabilities:
            skipped[name] = f"{name} cannot run workflows"
        elif not platform_ref(definition, name):
            skipped[name] = f"workflow is not installed on {name} (no platform_refs.{name})"
        elif tool.http.breaker.state is CircuitState.OPEN:
            skipped[name] = (
                f"{name} circuit is open for {tool.http.breaker.seconds_until_trial():.0f}s "
                "more after repeated failures"
            )
        elif status.get(name) in ("down", "unauthorized"):
            skipped[name] = f"{name} health check: {status[name]}"
        elif tool.http.limiter.headroom() < 1:
            skipped[name] = f"{name} rate limit has no headroom now"
        else:
            order.append(name)
    return RoutingDecision(order, skipped)


async def execute_with_failover(
    definition: PlatformDefinition,
    context: ExecutionContext,
    decision: RoutingDecision,
    tools: Mapping[str, RoutableTool],
    run_internal: Callable[[], Awaitable[WorkflowResult]] | None,
) -> RoutingOutcome:
    """Run on the first candidate, failing over down `decision.order`.

    Raises the last PlatformError when every candidate failed, and PlatformTimeoutError
    at once (see the module docstring).
    """
    attempts: list[dict[str, Any]] = []
    last_error: PlatformError | None = None
    order: Sequence[str] = decision.order
    for name in order:
        try:
            if name == INTERNAL:
                if run_internal is None:
                    attempts.append(
                        {
                            "platform": name,
                            "outcome": "skipped",
                            "reason": "no internal runner given",
                        }
                    )
                    continue
                result = await run_internal()
            else:
                result = await tools[name].execute_workflow(definition, context)
        except PlatformTimeoutError as exc:
            attempts.append({"platform": name, "outcome": "timeout", "error": exc.to_dict()})
            raise
        except _NOT_RUN as exc:
            attempts.append({"platform": name, "outcome": "failed_over", "error": exc.to_dict()})
            last_error = exc
            continue
        attempts.append({"platform": name, "outcome": result.status.value})
        return RoutingOutcome(result, decision, attempts)
    if last_error is not None:
        raise last_error
    raise PlatformUnavailableError(
        f"no platform could run workflow '{definition.name}': "
        + "; ".join(decision.skipped.values() or ["no candidates"]),
        platform=decision.platform or INTERNAL,
        details={"skipped": decision.skipped, "attempts": attempts},
    )
