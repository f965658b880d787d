"""A 2xx answer whose body is not JSON (cut off by a proxy, an HTML page from a gateway) is a
retryable PlatformUnavailableError naming the platform and the operation, so the worker
retries or fails over: never a raw JSONDecodeError, never the credential in the message."""

from __future__ import annotations

import uuid

import httpx
import pytest

from orchestration.platforms.apify import ApifyAdapter
from orchestration.platforms.clickup import ClickUpAdapter
from orchestration.platforms.config_store import Credentials, ToolConfig
from orchestration.platforms.errors import PlatformUnavailableError
from orchestration.platforms.make import MakeAdapter
from orchestration.platforms.n8n import N8nAdapter
from orchestration.platforms.resilience import ResilienceRegistry

SECRET = "tok-SECRET-998877"
CUT_OFF = b'{"id": "86a1", "name": "Call Smile Dent'


def _truncating_client() -> httpx.AsyncClient:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=CUT_OFF, headers={"content-type": "application/json"})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


def _config(tool: str, credential: str, tenant_id: uuid.UUID) -> ToolConfig:
    return ToolConfig(
        tenant_id=tenant_id,
        tool_name=tool,
        api_endpoint=f"http://{tool}.test/api",
        credentials=Credentials({credential: SECRET}, tool=tool),
        settings={"team_id": 1},
    )


async def test_a_cut_off_body_is_a_retryable_platform_error(
    tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    client = _truncating_client()
    clickup = ClickUpAdapter(client, _config("clickup", "api_token", tenant_id), registry=registry)
    make = MakeAdapter(client, _config("make", "api_token", tenant_id), registry=registry)
    n8n = N8nAdapter(client, _config("n8n", "api_key", tenant_id), registry=registry)
    apify = ApifyAdapter(client, _config("apify", "api_token", tenant_id), registry=registry)
    calls = {
        "clickup": clickup.create_task("L1", {"name": "Call Smile Dental"}),
        "make": make.run_scenario(42, {"a": 1}),
        "n8n": n8n.list_workflows(),
        "apify": apify.get_run("run-1"),
    }
    for platform, call in calls.items():
        with pytest.raises(PlatformUnavailableError) as caught:
            await call
        message = str(caught.value)
        assert caught.value.retryable and caught.value.platform == platform
        assert "not JSON" in message and platform in message, message
        assert SECRET not in message
