from __future__ import annotations

import uuid

import httpx

from orchestration.platforms.apify import ApifyAdapter
from orchestration.platforms.base import ExternalTool
from orchestration.platforms.clickup import ClickUpAdapter
from orchestration.platforms.clickup_sync import ClickUpSyncSettings
from orchestration.platforms.config_store import Credentials, ToolConfig
from orchestration.platforms.engine_services import ApifyRunService, ClickUpTaskService
from orchestration.platforms.make import MakeAdapter
from orchestration.platforms.n8n import N8nAdapter
from orchestration.platforms.resilience import ResilienceRegistry
from orchestration.workflows.services import ApifyRunner, ClickUpTasks
from tests.fakes.apify import ApifyFake
from tests.fakes.clickup import ClickUpFake
from tests.unit.orchestration.platforms.test_clickup import FIELDS, SETTINGS, TOKEN


def config(tool: str, tenant_id: uuid.UUID, **credentials: str) -> ToolConfig:
    return ToolConfig(
        tenant_id=tenant_id,
        tool_name=tool,
        api_endpoint=f"http://{tool}.test/v2",
        credentials=Credentials(credentials, tool=tool),
    )


async def test_clickup_step_service_creates_once_per_idempotency_key(
    tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    fake = ClickUpFake(token=TOKEN)
    fake.add_list("L1", "Qualified Prospects", FIELDS)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app()))
    adapter = ClickUpAdapter(
        client,
        ToolConfig(
            tenant_id=tenant_id,
            tool_name="clickup",
            api_endpoint="http://clickup.test/api/v2",
            credentials=Credentials({"api_token": TOKEN}),
        ),
        registry=registry,
    )
    service: ClickUpTasks = ClickUpTaskService(adapter, ClickUpSyncSettings.from_settings(SETTINGS))
    task = {
        "project": "qualified_prospects",
        "name": "Call Bright Smiles",
        "custom_fields": {"lead_score": 91.2, "industry": "Dentist"},
    }
    first = await service.create_task(task, idempotency_key="exec-1:sync_to_clickup")
    again = await service.create_task(task, idempotency_key="exec-1:sync_to_clickup")
    assert first["created"] is True and again == {**first, "created": False}
    assert len(fake.tasks) == 1
    stored = fake.tasks[first["task_id"]]
    assert stored["_fields"] == {"f-score": 91, "f-industry": "Dentist"}
    assert [a["id"] for a in stored["assignees"]] == [11]


async def test_apify_step_service_starts_the_run(
    tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    fake = ApifyFake(token="apify_tok_123456")
    fake.add_actor("me~actor", [])
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app()))
    adapter = ApifyAdapter(
        client, config("apify", tenant_id, api_token="apify_tok_123456"), registry=registry
    )
    runner: ApifyRunner = ApifyRunService(adapter)
    started = await runner.run_actor("me~actor", {"q": 1}, idempotency_key="k")
    assert started["status"] == "READY" and started["run_id"] in fake.runs


def test_every_adapter_meets_the_external_tool_contract(tenant_id: uuid.UUID) -> None:
    client = httpx.AsyncClient()
    tools: list[ExternalTool] = [
        N8nAdapter(client, config("n8n", tenant_id, api_key="k")),
        MakeAdapter(client, config("make", tenant_id, api_token="t")),
        ClickUpAdapter(client, config("clickup", tenant_id, api_token="t")),
        ApifyAdapter(client, config("apify", tenant_id, api_token="t")),
    ]
    assert [t.name for t in tools] == ["n8n", "make", "clickup", "apify"]
    assert all(t.capabilities for t in tools)
