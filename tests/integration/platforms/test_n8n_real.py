"""The n8n adapter against a real n8n 2.8.4 (started by `.ci/services.sh` `start_n8n`)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from orchestration.platforms.base import ExecutionContext, ResultStatus
from orchestration.platforms.config_store import Credentials, ToolConfig
from orchestration.platforms.n8n import N8nAdapter
from orchestration.platforms.resilience import ResilienceRegistry
from tests.fakes.n8n import echo_workflow
from tests.services import REQUIRE_SERVICES, require

N8N_URL = os.environ.get("SWITCHBOARD_TEST_N8N_URL", "http://127.0.0.1:5678")

pytestmark = pytest.mark.n8n


class Definition:
    name = "AI Lead Qualification Pipeline"

    def __init__(self, path: str) -> None:
        self.platform_refs = {"n8n": {"webhook_path": path}}


@pytest.fixture
async def adapter() -> AsyncIterator[N8nAdapter]:
    require(N8N_URL, "n8n")
    api_key = os.environ.get("SWITCHBOARD_TEST_N8N_API_KEY")
    if not api_key:
        reason = "SWITCHBOARD_TEST_N8N_API_KEY is unset; run `source .ci/services.sh && start_n8n`"
        if REQUIRE_SERVICES:
            pytest.fail(reason)
        pytest.skip(reason)
    hook_secret = uuid.uuid4().hex
    async with httpx.AsyncClient() as client:
        config = ToolConfig(
            tenant_id=uuid.uuid4(),
            tool_name="n8n",
            api_endpoint=N8N_URL,
            credentials=Credentials(
                {
                    "api_key": api_key or "",
                    "webhook_auth_header": "X-Switchboard-Auth",
                    "webhook_auth_value": hook_secret,
                },
                tool="n8n",
            ),
        )
        yield N8nAdapter(client, config, registry=ResilienceRegistry(), activation_grace_s=15)


async def test_webhook_workflow_created_activated_and_run_shows_in_n8n_executions(
    adapter: N8nAdapter,
) -> None:
    path = f"switchboard-test-{uuid.uuid4().hex[:8]}"
    hook_value = adapter.config.credentials.require("webhook_auth_value")
    credential = await adapter.create_header_credential(
        f"switchboard {path}", "X-Switchboard-Auth", hook_value
    )
    created = await adapter.create_workflow(echo_workflow(f"Switchboard {path}", path, credential))
    workflow_id = str(created["id"])
    assert created["active"] is False
    try:
        activated = await adapter.activate(workflow_id)
        assert activated["active"] is True
        context = ExecutionContext(
            tenant_id=adapter.config.tenant_id,
            idempotency_key=f"{path}:1",
            payload={"account_id": "acc-1"},
            event_type="lead_qualified",
        )
        result = await adapter.execute_workflow(Definition(path), context)
        assert result.status is ResultStatus.COMPLETED, result
        assert result.output["ok"] is True
        assert result.output["received"]["account_id"] == "acc-1"
        assert result.output["received"]["idempotency_key"] == f"{path}:1"

        # Executions are saved asynchronously: poll with a deadline.
        deadline = time.monotonic() + 15
        executions: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            executions = await adapter.list_executions(workflow_id=workflow_id)
            if executions and executions[0].get("status") == "success":
                break
            await anyio.sleep(0.2)
        assert executions and executions[0]["status"] == "success"
        stored = adapter.execution_result(
            await adapter.get_execution(str(executions[0]["id"]), include_data=True)
        )
        assert stored.status is ResultStatus.COMPLETED
        assert stored.execution_fields()["execution_result"]["external_execution_id"]

        # Installing the same workflow again updates it in place through the real PUT.
        refs = await adapter.install(echo_workflow(f"Switchboard {path}", path, credential))
        assert refs == {"workflow_id": workflow_id, "webhook_path": path, "http_method": "POST"}
    finally:
        await adapter.deactivate(workflow_id)
        await adapter.delete_workflow(workflow_id)
