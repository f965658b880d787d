"""Adapters against the fakes over real sockets: slow answers and refused connections."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
import stamina

from orchestration.platforms.clickup import ClickUpAdapter
from orchestration.platforms.config_store import Credentials, ToolConfig
from orchestration.platforms.errors import (
    CircuitOpenError,
    PlatformTimeoutError,
    PlatformUnavailableError,
)
from orchestration.platforms.resilience import ResilienceRegistry
from tests.fakes.clickup import ClickUpFake
from tests.fakes.server import free_port, serve_in_thread

TOKEN = "pk_socket_SECRET_token"


@pytest.fixture(autouse=True)
def _stamina_instant() -> Iterator[None]:
    with stamina.set_testing(True, attempts=2):
        yield


def clickup(base_url: str, client: httpx.AsyncClient) -> ClickUpAdapter:
    config = ToolConfig(
        tenant_id=uuid.uuid4(),
        tool_name="clickup",
        api_endpoint=f"{base_url}/api/v2",
        credentials=Credentials({"api_token": TOKEN}, tool="clickup"),
    )
    adapter = ClickUpAdapter(client, config, registry=ResilienceRegistry(failure_threshold=2))
    adapter.http.timeout = 0.3
    return adapter


async def test_slow_answer_times_out_and_a_create_is_not_sent_twice() -> None:
    fake = ClickUpFake(token=TOKEN)
    fake.add_list("L1", "Qualified Prospects")
    fake.plan.add(path_prefix="/api/v2/list/L1/task", delay=1.0, times=None)
    with serve_in_thread(fake.app()) as base_url:
        async with httpx.AsyncClient() as client:
            adapter = clickup(base_url, client)
            with pytest.raises(PlatformTimeoutError, match="may still have been applied"):
                await adapter.create_task("L1", {"name": "slow"})
            assert len(fake.plan.matching("POST", "/api/v2/list/L1/task")) == 1
            with pytest.raises(PlatformTimeoutError):
                await adapter.find_tasks_by_tag("L1", "sb-x")
            assert len(fake.plan.matching("GET", "/api/v2/list/L1/task")) == 2  # GET retried


async def test_refused_connections_open_the_circuit() -> None:
    async with httpx.AsyncClient() as client:
        adapter = clickup(f"http://127.0.0.1:{free_port()}", client)
        for _ in range(2):
            with pytest.raises(PlatformUnavailableError, match="could not be reached"):
                await adapter.get_task("t1")
        with pytest.raises(CircuitOpenError):
            await adapter.get_task("t1")
        status = await adapter.get_status()
        assert status.connection_status == "down" and status.circuit_state == "open"
        assert TOKEN not in (status.detail or "")
