from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from orchestration.platforms.base import ExecutionContext, ResultStatus, WorkflowResult
from orchestration.platforms.config_store import Credentials, ToolConfig
from orchestration.platforms.errors import PlatformTimeoutError
from orchestration.platforms.make import MakeAdapter
from orchestration.platforms.n8n import N8nAdapter
from orchestration.platforms.resilience import ResilienceRegistry
from orchestration.platforms.routing import (
    RoutableTool,
    choose_platform,
    execute_with_failover,
)
from tests.fakes.make import MakeFake
from tests.unit.orchestration.platforms.conftest import FakeClock


@dataclass(frozen=True)
class Defn:
    name: str
    platform_refs: dict[str, Any]


def churn_definition() -> Defn:
    return Defn(
        "Churn Prevention Automation",
        {"n8n": {"webhook_path": "churn"}, "make": {"scenario_id": 7}},
    )


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def tools_for(
    tenant_id: uuid.UUID, registry: ResilienceRegistry, n8n_handler: object = refused
) -> dict[str, RoutableTool]:
    make_fake = MakeFake(token="make-token-route")
    make_fake.add_scenario(7, "Churn", outputs={"campaign": "created"})
    n8n = N8nAdapter(
        httpx.AsyncClient(transport=httpx.MockTransport(n8n_handler)),  # type: ignore[arg-type]
        ToolConfig(
            tenant_id=tenant_id,
            tool_name="n8n",
            api_endpoint="http://n8n.test",
            credentials=Credentials({"api_key": "k"}),
        ),
        registry=registry,
    )
    make = MakeAdapter(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=make_fake.app())),
        ToolConfig(
            tenant_id=tenant_id,
            tool_name="make",
            api_endpoint="http://make.test/api/v2",
            credentials=Credentials({"api_token": "make-token-route"}),
        ),
        registry=registry,
    )
    return {"n8n": n8n, "make": make}


def context(tenant_id: uuid.UUID) -> ExecutionContext:
    return ExecutionContext(tenant_id=tenant_id, idempotency_key="ev:wf:1", payload={})


async def test_n8n_down_fails_over_to_make_and_the_record_says_why(
    tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    tools = tools_for(tenant_id, registry)
    decision = choose_platform(churn_definition(), "n8n", "make", tools)
    assert decision.order == ["n8n", "make", "internal"]
    outcome = await execute_with_failover(
        churn_definition(), context(tenant_id), decision, tools, None
    )
    assert outcome.result.platform == "make" and outcome.result.status is ResultStatus.COMPLETED
    record = outcome.routing_record()
    assert record["failed_over"] is True and record["ran_on"] == "make"
    assert record["attempts"][0]["platform"] == "n8n"
    assert record["attempts"][0]["error"]["type"] == "PlatformUnavailableError"


async def test_open_circuit_and_missing_install_are_skipped_up_front(
    tenant_id: uuid.UUID, registry: ResilienceRegistry, clock: FakeClock
) -> None:
    tools = tools_for(tenant_id, registry)
    for _ in range(3):
        tools["n8n"].http.breaker.record_failure()

    make_only = Defn("Campaign", {"make": {"scenario_id": 7}})

    decision = choose_platform(churn_definition(), "n8n", "make", tools)
    assert decision.order[0] == "make" and "circuit is open" in decision.skipped["n8n"]
    not_installed = choose_platform(make_only, "n8n", None, tools, internal_allowed=False)
    assert not_installed.order == [] and "not installed" in not_installed.skipped["n8n"]
    clock.advance(30)
    assert choose_platform(churn_definition(), "n8n", "make", tools).order[0] == "n8n"  # half open


async def test_everything_down_ends_on_the_internal_engine(
    tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    tools = tools_for(tenant_id, registry)
    decision = choose_platform(
        churn_definition(), "n8n", None, tools, connection_status={"make": "down"}
    )

    async def internal() -> WorkflowResult:
        return WorkflowResult(platform="internal", status=ResultStatus.COMPLETED)

    outcome = await execute_with_failover(
        churn_definition(), context(tenant_id), decision, tools, internal
    )
    assert outcome.result.platform == "internal"
    assert [a["platform"] for a in outcome.attempts] == ["n8n", "internal"]


async def test_timeout_is_not_failed_over_to_avoid_running_twice(
    tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    tools = tools_for(tenant_id, registry, n8n_handler=slow)
    decision = choose_platform(churn_definition(), "n8n", "make", tools)
    with pytest.raises(PlatformTimeoutError):
        await execute_with_failover(churn_definition(), context(tenant_id), decision, tools, None)
