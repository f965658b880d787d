"""The n8n adapter against a real n8n 2.8.4 (started by `.ci/services.sh` `start_n8n`)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

from orchestration.platforms.base import ExecutionContext, ResultStatus, WorkflowResult
from orchestration.platforms.config_store import Credentials, ToolConfig
from orchestration.platforms.n8n import N8nAdapter
from orchestration.platforms.resilience import ResilienceRegistry
from tests.fakes.n8n import background_workflow, echo_workflow
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
        await adapter.delete_credential(credential)


async def _read_back_until_done(adapter: N8nAdapter, find: Any) -> WorkflowResult:
    """n8n saves executions asynchronously: read with a deadline until it has finished."""
    deadline = time.monotonic() + 20
    while True:
        found = await find()
        if found is not None:
            result = adapter.execution_result(found)
            if result.status is not ResultStatus.RUNNING:
                return result
        if time.monotonic() > deadline:
            raise AssertionError(f"the n8n execution did not finish in time: {found}")
        await anyio.sleep(0.2)


@pytest.mark.parametrize("answer", ["running", "started"])
async def test_a_run_that_answers_before_finishing_is_read_back_from_n8n_executions(
    adapter: N8nAdapter, answer: str
) -> None:
    path = f"switchboard-bg-{uuid.uuid4().hex[:8]}"
    hook_value = adapter.config.credentials.require("webhook_auth_value")
    credential = await adapter.ensure_header_credential(
        f"switchboard {path}", "X-Switchboard-Auth", hook_value
    )
    refs = await adapter.install(
        background_workflow(f"Switchboard {path}", path, credential, answer=answer)
    )
    workflow_id = str(refs["workflow_id"])
    try:
        key = f"{path}:1"
        context = ExecutionContext(
            tenant_id=adapter.config.tenant_id, idempotency_key=key, payload={"n": 21}
        )
        started = await adapter.execute_workflow(Definition(path), context)
        assert started.status is ResultStatus.RUNNING, started
        if answer == "running":  # the early Respond to Webhook gave n8n's execution id
            assert started.external_execution_id
            execution_id = started.external_execution_id

            async def by_id() -> dict[str, Any] | None:
                return await adapter.get_execution(execution_id, include_data=True)

            finished = await _read_back_until_done(adapter, by_id)
            assert finished.external_execution_id == execution_id
        else:  # "Workflow was started": no id, found by the idempotency key in its body
            assert started.external_execution_id is None
            assert started.output["idempotency_key"] == key

            async def by_key() -> dict[str, Any] | None:
                return await adapter.find_execution(workflow_id, key)

            finished = await _read_back_until_done(adapter, by_key)
        assert finished.status is ResultStatus.COMPLETED, finished
        assert finished.output["n8n_status"] == "success"
        assert finished.output["result"]["ok"] is True
        assert finished.output["result"]["received"]["n"] == 21
        # The caller's headers (our webhook auth value) never reach the result.
        assert hook_value not in str(finished.execution_fields())
    finally:
        await adapter.deactivate(workflow_id)
        await adapter.delete_workflow(workflow_id)
        await adapter.delete_credential(credential)


async def test_ensuring_a_header_credential_twice_keeps_one_and_updates_it(
    adapter: N8nAdapter,
) -> None:
    name = f"switchboard cred {uuid.uuid4().hex[:8]}"
    first = await adapter.ensure_header_credential(name, "X-Switchboard-Auth", "value-1")
    try:
        second = await adapter.ensure_header_credential(name, "X-Switchboard-Auth", "value-2")
        assert second == first
        named = [c for c in await adapter.list_credentials() if c.get("name") == name]
        assert len(named) == 1
    finally:
        await adapter.delete_credential(first)
