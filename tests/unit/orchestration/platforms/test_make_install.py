"""MakeAdapter installing a blueprint (hooks, scenarios, start) and reading executions back,
against the Make fake's documented contract."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from orchestration.platforms.base import ResultStatus
from orchestration.platforms.errors import PlatformRequestError, RateLimitedError
from orchestration.platforms.resilience import ResilienceRegistry
from orchestration.templates.catalog import find_template
from tests.fakes.make import MakeFake
from tests.unit.orchestration.platforms.conftest import FakeClock
from tests.unit.orchestration.platforms.test_make import TOKEN, Definition, adapter_for, context

LIMIT_MESSAGE = "Requests limit for organization exceeded, please try again later."


@pytest.fixture
def fake() -> MakeFake:
    return MakeFake(token=TOKEN)


def _blueprint(name: str = "Campaign [t1]") -> dict[str, Any]:
    blueprint = find_template("campaign-orchestration").export("make")
    return {**blueprint, "name": name}


async def test_install_creates_a_hook_and_an_active_instant_scenario_bound_to_it(
    fake: MakeFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    adapter = adapter_for(fake, tenant_id, registry)
    refs = await adapter.install(_blueprint(), 12)

    (hook,) = fake.hook_records.values()
    scenario = fake.scenarios[refs["scenario_id"]]
    assert refs == {
        "team_id": 12, "hook_id": hook["id"], "webhook_url": hook["url"],
        "scenario_id": scenario["id"],
    }  # fmt: skip
    assert scenario["isActive"] and scenario["scheduling"] == {"type": "immediately"}
    assert scenario["blueprint"]["flow"][0]["parameters"] == {"hook": hook["id"], "maxResults": 1}
    # Make takes the blueprint and scheduling as JSON strings, and the team id.
    create = fake.plan.matching("POST", "/api/v2/scenarios")[0].json()
    assert isinstance(create["blueprint"], str) and isinstance(create["scheduling"], str)
    assert json.loads(create["blueprint"])["name"] == "Campaign [t1]"
    assert create["teamId"] == 12
    hook_request = fake.plan.matching("POST", "/api/v2/hooks")[0]
    assert hook_request.headers["authorization"] == f"Token {TOKEN}"
    assert hook_request.json()["typeName"] == "gateway-webhook"
    # The template itself is untouched (the tenant copy got the hook id).
    assert (
        find_template("campaign-orchestration").export("make")["flow"][0]["parameters"]["hook"]
        is None
    )


async def test_reinstall_updates_the_scenario_and_reuses_the_hook(
    fake: MakeFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    adapter = adapter_for(fake, tenant_id, registry)
    first = await adapter.install(_blueprint(), 12)
    changed = _blueprint()
    changed["flow"][1]["mapper"]["subject"] = "New subject"
    second = await adapter.install(changed, 12)
    assert second == first
    assert len(fake.scenarios) == 1 and len(fake.hook_records) == 1
    scenario = fake.scenarios[first["scenario_id"]]
    assert scenario["blueprint"]["flow"][1]["mapper"]["subject"] == "New subject"


async def test_a_webhook_run_of_the_installed_scenario_answers_its_webhook_response(
    fake: MakeFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    adapter = adapter_for(fake, tenant_id, registry)
    refs = await adapter.install(_blueprint(), 12)
    fake.scenarios[refs["scenario_id"]]["webhook_response"] = {"campaign": "sent"}

    result = await adapter.execute_workflow(Definition(refs), context(tenant_id, account_id="a1"))
    assert result.status is ResultStatus.COMPLETED and result.output == {"campaign": "sent"}


async def test_invalid_blueprint_is_a_request_error_with_makes_suberrors(
    fake: MakeFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    adapter = adapter_for(fake, tenant_id, registry)
    with pytest.raises(PlatformRequestError) as info:
        await adapter.create_scenario({"name": "x", "flow": "nope"}, 12, {"type": "on-demand"})
    assert info.value.code == "SC400" and "'flow' must be an array" in str(info.value)
    assert fake.scenarios == {}


async def test_starting_a_scenario_whose_webhook_is_unset_is_refused(
    fake: MakeFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    adapter = adapter_for(fake, tenant_id, registry)
    created = await adapter.create_scenario(_blueprint(), 12, {"type": "immediately"})
    with pytest.raises(PlatformRequestError) as info:
        await adapter.start_scenario(int(created["id"]))
    assert "webhook is not set" in str(info.value)


async def test_install_honours_the_organisation_limit_429_and_its_retry_after(
    fake: MakeFake, tenant_id: uuid.UUID, registry: ResilienceRegistry, clock: FakeClock
) -> None:
    fake.plan.add(
        path_prefix="/api/v2/scenarios",
        method="GET",
        status=429,
        headers={"Retry-After": "4"},
        body={"message": LIMIT_MESSAGE},
    )
    adapter = adapter_for(fake, tenant_id, registry)
    refs = await adapter.install(_blueprint(), 12)
    assert fake.scenarios[refs["scenario_id"]]["isActive"]
    assert sum(clock.sleeps) >= 4
    # A limit that outlasts the budget is reported, and nothing is created twice.
    fake.plan.add(
        path_prefix="/api/v2/scenarios",
        method="GET",
        status=429,
        headers={"Retry-After": "600"},
        body={"message": LIMIT_MESSAGE},
    )
    with pytest.raises(RateLimitedError):
        await adapter.install(_blueprint(), 12)
    assert len(fake.scenarios) == 1


async def test_a_run_past_40s_is_read_back_from_its_execution_status(
    fake: MakeFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    fake.add_scenario(8, "Slow sync", duration=95, outputs={"synced": 3})
    fake.polls_until_done = 2
    adapter = adapter_for(fake, tenant_id, registry)
    started = await adapter.run_scenario(8, {})
    assert started.status is ResultStatus.RUNNING and started.external_execution_id
    execution_id = started.external_execution_id
    statuses = [
        adapter.execution_result(await adapter.get_execution(8, execution_id), execution_id)
        for _ in range(3)
    ]
    assert [s.status for s in statuses] == [
        ResultStatus.RUNNING, ResultStatus.RUNNING, ResultStatus.COMPLETED,
    ]  # fmt: skip
    assert statuses[-1].output == {"make_status": "SUCCESS", "synced": 3}
    assert statuses[-1].external_execution_id == execution_id


async def test_a_failed_execution_maps_to_failed_with_makes_message(
    fake: MakeFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    fake.add_scenario(9, "Broken", duration=95)
    fake.failing.add(9)
    fake.polls_until_done = 0
    adapter = adapter_for(fake, tenant_id, registry)
    started = await adapter.run_scenario(9, {})
    assert started.external_execution_id
    body = await adapter.get_execution(9, started.external_execution_id)
    result = adapter.execution_result(body, started.external_execution_id)
    assert result.status is ResultStatus.FAILED
    assert result.error == {"message": "Module 2 failed."}
