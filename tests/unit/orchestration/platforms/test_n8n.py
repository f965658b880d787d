from __future__ import annotations

import logging
import uuid

import httpx
import pytest

from orchestration.platforms.base import ExecutionContext, ResultStatus
from orchestration.platforms.config_store import Credentials, ToolConfig
from orchestration.platforms.errors import (
    PlatformAuthError,
    PlatformRequestError,
    WebhookNotRegisteredError,
)
from orchestration.platforms.n8n import N8nAdapter
from orchestration.platforms.resilience import ResilienceRegistry
from tests.fakes.n8n import N8nFake, echo_workflow

API_KEY = "n8n_api_SECRET_key_12345"
HOOK_VALUE = "hook-SECRET-value-777"


def adapter_for(
    fake: N8nFake,
    tenant_id: uuid.UUID,
    registry: ResilienceRegistry,
    api_key: str = API_KEY,
    grace: float = 5.0,
) -> N8nAdapter:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app()))
    config = ToolConfig(
        tenant_id=tenant_id,
        tool_name="n8n",
        api_endpoint="http://n8n.test",
        credentials=Credentials(
            {
                "api_key": api_key,
                "webhook_auth_header": "X-Switchboard-Auth",
                "webhook_auth_value": HOOK_VALUE,
            },
            tool="n8n",
        ),
    )
    return N8nAdapter(client, config, registry=registry, activation_grace_s=grace)


class Definition:
    name = "AI Lead Qualification Pipeline"

    def __init__(self, path: str) -> None:
        self.platform_refs = {"n8n": {"workflow_id": "x", "webhook_path": path}}


async def install(adapter: N8nAdapter, path: str) -> str:
    cred = await adapter.create_header_credential("switchboard", "X-Switchboard-Auth", HOOK_VALUE)
    created = await adapter.create_workflow(echo_workflow("Lead qualification", path, cred))
    await adapter.activate(created["id"])
    return str(created["id"])


async def test_create_sends_only_the_accepted_keys_and_activation_race_is_absorbed(
    tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    fake = N8nFake(api_key=API_KEY, registration_lag=2)
    adapter = adapter_for(fake, tenant_id, registry)
    workflow_id = await install(adapter, "crm/prospect/new")
    sent = fake.plan.matching("POST", "/api/v1/workflows")[0]
    assert set(sent.json()) == {"name", "nodes", "connections", "settings"}
    assert sent.headers["x-n8n-api-key"] == API_KEY
    context = ExecutionContext(
        tenant_id=tenant_id,
        idempotency_key="ev-1:wf:1",
        payload={"account_id": "a1"},
        event_type="prospect_identified",
    )
    result = await adapter.execute_workflow(Definition("crm/prospect/new"), context)
    assert result.status is ResultStatus.COMPLETED
    assert result.output["received"]["account_id"] == "a1"
    hooks = fake.plan.matching("POST", "/webhook/crm/prospect/new")
    assert len(hooks) == 3  # two "not registered" answers, then the run
    assert hooks[-1].headers["x-idempotency-key"] == "ev-1:wf:1"
    assert hooks[-1].headers["x-switchboard-auth"] == HOOK_VALUE
    executions = await adapter.list_executions(workflow_id=workflow_id)
    assert [e["status"] for e in executions] == ["success"]
    stored = adapter.execution_result(await adapter.get_execution(executions[0]["id"]))
    assert stored.status is ResultStatus.COMPLETED and stored.external_execution_id


async def test_inactive_workflow_webhook_fails_after_the_grace_period(
    tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    fake = N8nFake(api_key=API_KEY)
    adapter = adapter_for(fake, tenant_id, registry, grace=0.5)
    created = await adapter.create_workflow(echo_workflow("Churn", "churn"))
    with pytest.raises(WebhookNotRegisteredError, match="activate its workflow"):
        await adapter.call_webhook("churn", {}, "k")
    assert created["active"] is False


async def test_workflow_error_is_a_failed_result_and_read_back_as_failed(
    tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    fake = N8nFake(api_key=API_KEY, registration_lag=0)
    adapter = adapter_for(fake, tenant_id, registry)
    workflow_id = await install(adapter, "p")
    fake.failing.add(workflow_id)
    result = await adapter.call_webhook("p", {}, "k")
    assert result.status is ResultStatus.FAILED and result.error == {"message": "Error in workflow"}
    assert len(fake.plan.matching("POST", "/webhook/p")) == 1  # a failed run is not re-run
    execution = (await adapter.list_executions(workflow_id=workflow_id, status="error"))[0]
    assert adapter.execution_result(execution).status is ResultStatus.FAILED


async def test_wrong_webhook_header_and_wrong_api_key_are_auth_errors_without_secrets(
    tenant_id: uuid.UUID, registry: ResilienceRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = N8nFake(api_key=API_KEY, registration_lag=0)
    await install(adapter_for(fake, tenant_id, registry), "p")
    fake.credentials[next(iter(fake.credentials))]["data"]["value"] = "rotated-elsewhere"
    with pytest.raises(PlatformAuthError) as hook_error:
        await adapter_for(fake, tenant_id, registry).call_webhook("p", {}, "k")
    wrong = "n8n_api_WRONG_999999"
    bad = adapter_for(fake, tenant_id, registry, api_key=wrong)
    with pytest.raises(PlatformAuthError) as api_error:
        await bad.list_workflows()
    for text in (str(hook_error.value), str(api_error.value), caplog.text, repr(bad)):
        assert HOOK_VALUE not in text and wrong not in text and API_KEY not in text


async def test_extra_keys_are_never_sent_and_missing_ones_are_named(
    tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    fake = N8nFake(api_key=API_KEY)
    adapter = adapter_for(fake, tenant_id, registry)
    workflow = echo_workflow("W", "w")
    created = await adapter.create_workflow({**workflow, "id": "fixed", "versionId": "v"})
    updated = await adapter.update_workflow(created["id"], {**workflow, "name": "W2"})
    assert updated["name"] == "W2"
    assert [w["name"] for w in await adapter.list_workflows()] == ["W2"]
    with pytest.raises(PlatformRequestError, match="nodes"):
        await adapter.create_workflow({"name": "x", "connections": {}})
    assert await adapter.validate_connection()


async def test_install_creates_once_activates_and_returns_the_platform_refs(
    tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    fake = N8nFake(api_key=API_KEY, registration_lag=0)
    adapter = adapter_for(fake, tenant_id, registry)
    refs = await adapter.install(echo_workflow("Churn Prevention Automation", "churn"))
    again = await adapter.install(echo_workflow("Churn Prevention Automation", "churn"))
    assert (
        refs
        == again
        == {"workflow_id": refs["workflow_id"], "webhook_path": "churn", "http_method": "POST"}
    )
    assert len(fake.workflows) == 1 and fake.workflows[refs["workflow_id"]]["active"] is True
    result = await adapter.execute_workflow(
        Definition("churn"), ExecutionContext(tenant_id=tenant_id, idempotency_key="k", payload={})
    )
    assert result.status is ResultStatus.COMPLETED
    with pytest.raises(PlatformRequestError, match="no Webhook node"):
        await adapter.install({"name": "x", "nodes": [], "connections": {}})
