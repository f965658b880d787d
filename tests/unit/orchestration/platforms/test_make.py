from __future__ import annotations

import uuid

import httpx
import pytest

from orchestration.platforms.base import ExecutionContext, ResultStatus
from orchestration.platforms.config_store import Credentials, ToolConfig
from orchestration.platforms.errors import PlatformAuthError, PlatformRequestError, RateLimitedError
from orchestration.platforms.make import MakeAdapter
from orchestration.platforms.resilience import ResilienceRegistry
from tests.fakes.make import MakeFake
from tests.unit.orchestration.platforms.conftest import FakeClock

TOKEN = "make-SECRET-token-4242"
BASE = "http://eu1.make.test/api/v2"


class Definition:
    def __init__(self, ref: dict[str, object]) -> None:
        self.name = "Multi-Channel Campaign Orchestration"
        self.platform_refs = {"make": ref}


@pytest.fixture
def fake() -> MakeFake:
    fake = MakeFake(token=TOKEN)
    fake.add_scenario(
        7,
        "Campaign",
        inputs=[{"name": "account_id", "type": "text", "required": True}],
        outputs={"campaign": "sent"},
    )
    fake.add_scenario(8, "Slow sync", duration=95)
    fake.hooks["abc"] = []
    return fake


def adapter_for(
    fake: MakeFake,
    tenant_id: uuid.UUID,
    registry: ResilienceRegistry,
    token: str = TOKEN,
    rate_limits: dict[str, object] | None = None,
) -> MakeAdapter:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app()))
    config = ToolConfig(
        tenant_id=tenant_id,
        tool_name="make",
        api_endpoint=BASE,
        credentials=Credentials({"api_token": token}, tool="make"),
        rate_limits=dict(rate_limits or {}),
    )
    return MakeAdapter(client, config, registry=registry)


def context(tenant_id: uuid.UUID, **payload: object) -> ExecutionContext:
    return ExecutionContext(tenant_id=tenant_id, idempotency_key="ev1:wf:1", payload=payload)


async def test_api_run_sends_token_auth_and_maps_outputs(
    fake: MakeFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    adapter = adapter_for(fake, tenant_id, registry)
    result = await adapter.execute_workflow(
        Definition({"scenario_id": 7}), context(tenant_id, account_id="a1")
    )
    assert result.status is ResultStatus.COMPLETED
    assert result.output == {"campaign": "sent"} and result.external_execution_id
    run = fake.plan.matching("POST", "/api/v2/scenarios/7/run")[0]
    assert run.headers["authorization"] == f"Token {TOKEN}"
    assert run.json() == {
        "data": {"account_id": "a1", "idempotency_key": "ev1:wf:1"},
        "responsive": True,
    }


async def test_responsive_run_over_40s_is_running_with_its_execution_id(
    fake: MakeFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    adapter = adapter_for(fake, tenant_id, registry)
    result = await adapter.execute_workflow(Definition({"scenario_id": 8}), context(tenant_id))
    assert result.status is ResultStatus.RUNNING
    assert result.external_execution_id == fake.runs[-1]["executionId"]
    assert len(fake.runs) == 1  # the timeout is not retried into a second run
    assert adapter.http.breaker.state == "closed"


async def test_missing_required_input_maps_suberrors_into_the_message(
    fake: MakeFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    adapter = adapter_for(fake, tenant_id, registry)
    interface = await adapter.scenario_interface(7)
    assert interface["input"][0]["name"] == "account_id"
    with pytest.raises(PlatformRequestError) as info:
        await adapter.execute_workflow(Definition({"scenario_id": 7}), context(tenant_id))
    assert "account_id" in str(info.value) and info.value.code == "SC400"


async def test_webhook_run_is_accepted_as_running_and_carries_the_idempotency_key(
    fake: MakeFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    adapter = adapter_for(fake, tenant_id, registry)
    result = await adapter.execute_workflow(
        Definition({"webhook_url": "http://hook.eu1.make.test/hook/abc"}), context(tenant_id, x=1)
    )
    assert result.status is ResultStatus.RUNNING and result.output["accepted"] == "Accepted"
    assert fake.hooks["abc"] == [{"x": 1, "idempotency_key": "ev1:wf:1"}]
    assert fake.plan.matching("POST", "/hook/abc")[0].headers["x-idempotency-key"] == "ev1:wf:1"
    fake.hook_responses["abc"] = {"ok": True}
    replied = await adapter.call_webhook("http://hook.eu1.make.test/hook/abc", {}, "k2")
    assert replied.status is ResultStatus.COMPLETED and replied.output == {"ok": True}


async def test_organisation_limit_429_retry_after_is_honoured(
    fake: MakeFake, tenant_id: uuid.UUID, registry: ResilienceRegistry, clock: FakeClock
) -> None:
    fake.plan.add(
        path_prefix="/api/v2/scenarios/7/run",
        status=429,
        headers={"Retry-After": "3"},
        body={"message": "Requests limit for organization exceeded, please try again later."},
    )
    adapter = adapter_for(fake, tenant_id, registry)
    result = await adapter.run_scenario(7, {"account_id": "a"})
    assert result.status is ResultStatus.COMPLETED
    assert sum(clock.sleeps) >= 3
    fake.plan.add(
        path_prefix="/api/v2/scenarios/7/run",
        status=429,
        headers={"Retry-After": "120"},
        body={"message": "Requests limit for organization exceeded, please try again later."},
    )
    with pytest.raises(RateLimitedError):
        await adapter.run_scenario(7, {"account_id": "a"})


async def test_plan_rate_limit_spaces_calls_without_sleeping(
    fake: MakeFake, tenant_id: uuid.UUID, registry: ResilienceRegistry, clock: FakeClock
) -> None:
    adapter = adapter_for(
        fake, tenant_id, registry, rate_limits={"requests_per_minute": 60, "burst": 1}
    )
    for _ in range(3):
        await adapter.scenario_interface(7)
    assert clock.sleeps == [1.0, 1.0]


async def test_wrong_token_is_an_auth_error_that_hides_the_token(
    fake: MakeFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    wrong = "make-WRONG-secret-000"
    adapter = adapter_for(fake, tenant_id, registry, token=wrong)
    with pytest.raises(PlatformAuthError) as info:
        await adapter.scenario_interface(7)
    assert "Invalid access token" in str(info.value) and wrong not in str(info.value)
    assert not await adapter.validate_connection()


def test_configurations_on_one_organisation_share_its_rate_limit(
    registry: ResilienceRegistry,
) -> None:
    def make(tenant: uuid.UUID, org: str) -> MakeAdapter:
        return MakeAdapter(
            httpx.AsyncClient(),
            ToolConfig(
                tenant_id=tenant,
                tool_name="make",
                api_endpoint=BASE,
                credentials=Credentials({"api_token": TOKEN}),
                settings={"organization_id": org},
            ),
            registry=registry,
        )

    first, second, other = (
        make(uuid.uuid4(), "42"),
        make(uuid.uuid4(), "42"),
        make(uuid.uuid4(), "7"),
    )
    assert first.http.limiter is second.http.limiter
    assert first.http.limiter is not other.http.limiter
