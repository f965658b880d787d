"""A real worker runs real workflows through the runtime: routing to n8n, failover to the
internal engine when n8n is down, and a ClickUp 429 storm that outlasts the retry budget.

The platforms are the contract fakes served on 127.0.0.1 (tests/fakes/server.py); stamina
retries are instant and rate-limit waits run on a fake clock, so nothing sleeps for real.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa
import stamina
from pydantic import SecretStr

from orchestration.events.models import CustomerEvent
from orchestration.events.publish import publish
from orchestration.executions import ExecutionRecord, list_executions
from orchestration.platforms.config_store import save_tool_config
from orchestration.platforms.n8n import N8nAdapter
from orchestration.platforms.resilience import ResilienceRegistry
from orchestration.queue.config import QueueConfig
from orchestration.runtime import RuntimeConfig, open_worker_runtime
from orchestration.templates.install import record_platform_refs
from orchestration.worker import create_worker
from orchestration.workflows.store import save_definition
from shared.config import Settings
from shared.crypto import CredentialCipher, generate_key
from shared.db.database import Database
from shared.db.orchestration_tables import event_queue
from shared.tenants import create_tenant
from tests.fakes.clickup import ClickUpFake
from tests.fakes.make import MakeFake
from tests.fakes.n8n import N8nFake, echo_workflow
from tests.fakes.server import free_port, serve_in_thread

N8N_KEY = "n8n_api_SECRET_key_12345"
HOOK_HEADER, HOOK_VALUE = "X-Switchboard-Auth", "hook-SECRET-value-777"
CLICKUP_TOKEN = "pk_12345_SECRETTOKENVALUE"
MAKE_TOKEN = "make-SECRET-token-4242"
LEAD = {"name": "Bright Smiles Dental", "industry": "dentist", "rating": 4.8, "review_count": 120}

QUALIFY_YAML = """
name: Lead qualification
trigger: {type: event, event_type: lead_qualified}
primary_platform: n8n
fallback_platform: internal
retry_policy: {max_attempts: 3, initial_delay_seconds: 0, jitter: false}
steps:
  - name: Score lead
    action: analyze
    kind: qualify_lead
"""

CLICKUP_YAML = """
name: Sync qualified lead
trigger: {type: event, event_type: lead_qualified}
retry_policy: {max_attempts: 10, initial_delay_seconds: 0, jitter: false}
steps:
  - name: Create task
    action: create_clickup_task
    project: qualified_prospects
    task_name: "Call {{ event.name }}"
"""


class FakeClock:
    """Monotonic seconds that move only when a rate limiter 'sleeps'."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def _instant_retries() -> Iterator[None]:
    with stamina.set_testing(True, attempts=2):
        yield


@pytest.fixture
def registry() -> ResilienceRegistry:
    clock = FakeClock()
    return ResilienceRegistry(clock=clock, sleep=clock.sleep)


@pytest.fixture
def secret_key() -> str:
    return generate_key()


async def _tenant(db: Database) -> uuid.UUID:
    return (await create_tenant(db, f"acme-{uuid.uuid4().hex[:6]}")).id


async def _install_n8n(base_url: str) -> dict[str, Any]:
    """Create the workflow in the fake n8n through its public API, as `templates install`."""
    from orchestration.platforms.config_store import Credentials, ToolConfig

    config = ToolConfig(
        tenant_id=uuid.uuid4(),
        tool_name="n8n",
        api_endpoint=base_url,
        credentials=Credentials({"api_key": N8N_KEY}, tool="n8n"),
    )
    async with httpx.AsyncClient() as client:
        adapter = N8nAdapter(client, config, registry=ResilienceRegistry())
        cred = await adapter.create_header_credential("switchboard", HOOK_HEADER, HOOK_VALUE)
        return await adapter.install(echo_workflow("Lead qualification", "lead/qualify", cred))


async def _configure_n8n(db: Database, key: str, tenant_id: uuid.UUID, base_url: str) -> None:
    await save_tool_config(
        db,
        CredentialCipher(key),
        tenant_id=tenant_id,
        tool_name="n8n",
        api_endpoint=base_url,
        credentials={
            "api_key": N8N_KEY,
            "webhook_auth_header": HOOK_HEADER,
            "webhook_auth_value": HOOK_VALUE,
        },
    )


async def _emit(db: Database, tenant_id: uuid.UUID, data: dict[str, Any]) -> uuid.UUID:
    event = CustomerEvent(
        eventId=f"evt-{uuid.uuid4()}",
        tenantId=tenant_id,
        customerId="cust-1",
        eventType="lead_qualified",
        eventData=data,
    )
    return (await publish(db, event, max_retries=10)).queue_id


async def _drain(db: Database, key: str, registry: ResilienceRegistry) -> None:
    settings = Settings(database_url="sqlite://", secret_key=SecretStr(key))  # only the key is read
    config = RuntimeConfig(run_schedules=False, run_health_monitor=False, tools_cache_s=0)
    async with open_worker_runtime(settings, db, config=config, registry=registry) as runtime:
        worker = create_worker(
            db,
            runtime.handler,
            config=QueueConfig(poll_interval_s=0.05, concurrency=2, batch_size=2),
        )
        with anyio.fail_after(60):
            await worker.run(drain=True)


async def _only_execution(db: Database, tenant_id: uuid.UUID) -> ExecutionRecord:
    executions = await list_executions(db, tenant_id)
    assert len(executions) == 1, [e.as_dict() for e in executions]
    return executions[0]


async def _event_row(db: Database, queue_id: uuid.UUID) -> dict[str, Any]:
    async with db.engine.connect() as conn:
        row = (
            (await conn.execute(sa.select(event_queue).where(event_queue.c.id == queue_id)))
            .mappings()
            .one()
        )
    return dict(row)


async def test_an_event_whose_primary_is_n8n_completes_through_n8n(
    sqlite_db: Database, secret_key: str, registry: ResilienceRegistry
) -> None:
    fake = N8nFake(api_key=N8N_KEY, registration_lag=0)
    tenant_id = await _tenant(sqlite_db)
    saved = await save_definition(sqlite_db, tenant_id, QUALIFY_YAML)
    with serve_in_thread(fake.app()) as base_url:
        refs = await _install_n8n(base_url)
        await record_platform_refs(sqlite_db, saved.stored.id, "n8n", refs)
        await _configure_n8n(sqlite_db, secret_key, tenant_id, base_url)
        queue_id = await _emit(sqlite_db, tenant_id, LEAD)
        await _drain(sqlite_db, secret_key, registry)

    execution = await _only_execution(sqlite_db, tenant_id)
    assert execution.status == "completed"
    assert execution.execution_platform == "n8n"
    assert execution.routing is not None
    assert execution.routing["ran_on"] == "n8n" and execution.routing["failed_over"] is False
    assert execution.routing["order"] == ["n8n", "internal"]
    assert execution.execution_result is not None
    assert execution.execution_result["output"]["received"]["name"] == LEAD["name"]
    hooks = fake.plan.matching("POST", "/webhook/lead/qualify")
    assert len(hooks) == 1
    assert hooks[0].headers["x-idempotency-key"].startswith("sb-")
    assert (await _event_row(sqlite_db, queue_id))["status"] == "completed"


async def test_with_n8n_stopped_the_same_event_fails_over_to_internal_and_says_why(
    any_db: Database, secret_key: str, registry: ResilienceRegistry
) -> None:
    fake = N8nFake(api_key=N8N_KEY, registration_lag=0)
    tenant_id = await _tenant(any_db)
    saved = await save_definition(any_db, tenant_id, QUALIFY_YAML)
    with serve_in_thread(fake.app()) as base_url:
        refs = await _install_n8n(base_url)
    # The server is stopped: its port now refuses connections.
    await record_platform_refs(any_db, saved.stored.id, "n8n", refs)
    await _configure_n8n(any_db, secret_key, tenant_id, base_url)
    queue_id = await _emit(any_db, tenant_id, LEAD)
    await _drain(any_db, secret_key, registry)

    execution = await _only_execution(any_db, tenant_id)
    assert execution.status == "completed"
    assert execution.execution_platform == "internal"
    routing = execution.routing or {}
    assert routing["ran_on"] == "internal" and routing["failed_over"] is True
    first, second = routing["attempts"]
    assert first["platform"] == "n8n" and first["outcome"] == "failed_over"
    assert "could not be reached" in first["error"]["message"]
    assert second == {"platform": "internal", "outcome": "completed"}
    outputs = (execution.execution_result or {})["outputs"]
    assert outputs["score_lead"]["qualification_score"] > 0  # the internal engine ran it
    assert (await _event_row(any_db, queue_id))["status"] == "completed"


async def test_n8n_answering_503_fails_over_and_the_secret_never_reaches_the_record(
    sqlite_db: Database, secret_key: str, registry: ResilienceRegistry
) -> None:
    fake = N8nFake(api_key=N8N_KEY, registration_lag=0)
    tenant_id = await _tenant(sqlite_db)
    saved = await save_definition(sqlite_db, tenant_id, QUALIFY_YAML)
    with serve_in_thread(fake.app()) as base_url:
        refs = await _install_n8n(base_url)
        await record_platform_refs(sqlite_db, saved.stored.id, "n8n", refs)
        await _configure_n8n(sqlite_db, secret_key, tenant_id, base_url)
        fake.plan.add(path_prefix="/webhook/", status=503, body={"message": "down"}, times=None)
        await _emit(sqlite_db, tenant_id, LEAD)
        await _drain(sqlite_db, secret_key, registry)

    execution = await _only_execution(sqlite_db, tenant_id)
    routing = execution.routing or {}
    assert execution.status == "completed" and routing["ran_on"] == "internal"
    assert routing["attempts"][0]["error"]["status_code"] == 503
    text = str(execution.as_dict(with_state=True))
    assert N8N_KEY not in text and HOOK_VALUE not in text


async def test_a_clickup_429_storm_longer_than_the_retry_budget_loses_nothing_and_creates_once(
    any_db: Database, secret_key: str, registry: ResilienceRegistry
) -> None:
    fake = ClickUpFake(token=CLICKUP_TOKEN)
    fake.add_list("L1", "Qualified Prospects")
    tenant_id = await _tenant(any_db)
    await save_definition(any_db, tenant_id, CLICKUP_YAML)
    storm = 4
    # ClickUp's own 429: no Retry-After, X-RateLimit-Reset an hour away, far past the
    # adapter's retry budget, so each attempt gives up at once (the fake clock waits).
    reset = str(int(time.time()) + 3600)
    fake.plan.add(
        path_prefix="/api/v2/list/L1/task",
        status=429,
        headers={
            "X-RateLimit-Limit": "100",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset,
        },
        body={"err": "Rate limit reached", "ECODE": "APP_002"},
        times=storm,
    )
    with serve_in_thread(fake.app()) as base_url:
        await save_tool_config(
            any_db,
            CredentialCipher(secret_key),
            tenant_id=tenant_id,
            tool_name="clickup",
            api_endpoint=f"{base_url}/api/v2",
            credentials={"api_token": CLICKUP_TOKEN},
            settings={"lists": {"qualified_prospects": "L1"}},
        )
        queue_id = await _emit(any_db, tenant_id, LEAD)
        await _drain(any_db, secret_key, registry)

    event = await _event_row(any_db, queue_id)
    assert event["status"] == "completed"
    assert event["attempts"] == storm + 1  # each 429 cost one attempt; none was lost
    assert len(fake.tasks) == 1
    assert next(iter(fake.tasks.values()))["name"] == f"Call {LEAD['name']}"
    assert len(fake.plan.matching("POST", "/api/v2/list/L1/task")) == 1
    execution = await _only_execution(any_db, tenant_id)
    assert execution.status == "completed" and execution.retry_count == storm


async def _configure_make(db: Database, key: str, tenant_id: uuid.UUID, base_url: str) -> None:
    await save_tool_config(
        db,
        CredentialCipher(key),
        tenant_id=tenant_id,
        tool_name="make",
        api_endpoint=f"{base_url}/api/v2",
        credentials={"api_token": MAKE_TOKEN},
    )


async def _n8n_then_make_definition(db: Database, tenant_id: uuid.UUID) -> uuid.UUID:
    yaml_text = QUALIFY_YAML.replace("fallback_platform: internal", "fallback_platform: make")
    saved = await save_definition(db, tenant_id, yaml_text)
    definition_id = saved.stored.id
    await record_platform_refs(db, definition_id, "n8n", {"webhook_path": "lead/qualify"})
    await record_platform_refs(db, definition_id, "make", {"scenario_id": 7})
    return definition_id


async def test_with_n8n_down_the_event_completes_through_the_make_fallback(
    sqlite_db: Database, secret_key: str, registry: ResilienceRegistry
) -> None:
    make = MakeFake(token=MAKE_TOKEN)
    make.add_scenario(7, "Qualify", inputs=[{"name": "name", "type": "text", "required": True}])
    tenant_id = await _tenant(sqlite_db)
    await _n8n_then_make_definition(sqlite_db, tenant_id)
    await _configure_n8n(sqlite_db, secret_key, tenant_id, f"http://127.0.0.1:{free_port()}")
    with serve_in_thread(make.app()) as make_url:
        await _configure_make(sqlite_db, secret_key, tenant_id, make_url)
        await _emit(sqlite_db, tenant_id, LEAD)
        await _drain(sqlite_db, secret_key, registry)

    execution = await _only_execution(sqlite_db, tenant_id)
    routing = execution.routing or {}
    assert execution.execution_platform == "make"
    assert routing["order"] == ["n8n", "make", "internal"]
    assert [a["platform"] for a in routing["attempts"]] == ["n8n", "make"]
    assert routing["attempts"][0]["outcome"] == "failed_over" and routing["failed_over"] is True
    assert len(make.runs) == 1 and make.runs[0]["data"]["name"] == LEAD["name"]
    assert MAKE_TOKEN not in str(execution.as_dict())


async def test_with_n8n_and_make_down_the_chain_ends_on_the_internal_engine(
    sqlite_db: Database, secret_key: str, registry: ResilienceRegistry
) -> None:
    tenant_id = await _tenant(sqlite_db)
    await _n8n_then_make_definition(sqlite_db, tenant_id)
    await _configure_n8n(sqlite_db, secret_key, tenant_id, f"http://127.0.0.1:{free_port()}")
    await _configure_make(sqlite_db, secret_key, tenant_id, f"http://127.0.0.1:{free_port()}")
    await _emit(sqlite_db, tenant_id, LEAD)
    await _drain(sqlite_db, secret_key, registry)

    execution = await _only_execution(sqlite_db, tenant_id)
    routing = execution.routing or {}
    assert execution.status == "completed" and execution.execution_platform == "internal"
    assert [(a["platform"], a["outcome"]) for a in routing["attempts"]] == [
        ("n8n", "failed_over"),
        ("make", "failed_over"),
        ("internal", "completed"),
    ]


def test_switchboard_worker_runs_workflows_with_the_runtime_services(tmp_path: Path) -> None:
    """`switchboard worker` wires the analytics engine (the bare handler has no services)."""
    import json

    from tests.unit.servers.test_cli_foundation import switchboard

    env = {
        "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "SWITCHBOARD_SECRET_KEY": generate_key(),
    }
    definition = tmp_path / "qualify.yaml"
    internal_only = QUALIFY_YAML.replace("primary_platform: n8n", "primary_platform: internal")
    definition.write_text(internal_only.replace("fallback_platform: internal\n", ""))
    for args in (
        ("db", "upgrade"),
        ("tenants", "create", "demo"),
        ("workflows", "load", str(definition)),
        ("events", "emit", "--type", "lead_qualified", "--customer", "c1", "--data",
         json.dumps(LEAD)),
        ("worker", "--drain"),
    ):  # fmt: skip
        result = switchboard(*args, env=env)
        assert result.returncode == 0, (args, result.stderr)
    listed = switchboard("executions", "list", "--json", env=env)
    (execution,) = json.loads(listed.stdout)
    assert execution["status"] == "completed", execution
    assert execution["routing"]["ran_on"] == "internal"
    assert execution["execution_result"]["outputs"]["score_lead"]["qualification_score"] > 0


@contextmanager
def _served_mcp_server() -> Iterator[str]:
    """A real MCP server over streamable HTTP on 127.0.0.1 (its lifespan on, which the
    session manager needs)."""
    import threading

    import uvicorn
    from mcp.server import MCPServer

    server: MCPServer[Any] = MCPServer("remote-test")

    @server.tool()
    async def echo(text: str) -> dict[str, str]:  # pyright: ignore[reportUnusedFunction]
        return {"echoed": text}

    port = free_port()
    app = server.streamable_http_app(stateless_http=True, json_response=True)
    uv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "MCP test server did not start"
        time.sleep(0.01)  # a thread-owned flag: nothing to wait on
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


async def test_a_remote_mcp_server_is_called_over_streamable_http_within_its_row(
    sqlite_db: Database,
) -> None:
    from orchestration.runtime.mcp_caller import RegisteredMcpCaller
    from orchestration.workflows.errors import StepFailedError, TransientStepError
    from shared.db.orchestration_tables import mcp_servers

    tenant_id = await _tenant(sqlite_db)
    caller = RegisteredMcpCaller(sqlite_db)
    with _served_mcp_server() as url:
        async with sqlite_db.transaction() as conn:
            await conn.execute(
                sa.insert(mcp_servers).values(
                    id=uuid.uuid4(),
                    tenant_id=tenant_id,
                    server_name="remote",
                    server_type="custom",
                    endpoint_url=url,
                    access_permissions={"allowed_tools": ["echo"], "default_tool": "echo"},
                )
            )
        result = await caller.call_tool(
            tenant_id, "remote", None, {"text": "hi"}, idempotency_key="k"
        )
        with pytest.raises(StepFailedError, match="access_permissions"):
            await caller.call_tool(tenant_id, "remote", "drop", {}, idempotency_key="k")
    assert result == {"echoed": "hi"}
    with pytest.raises(TransientStepError, match="could not be called"):  # the server is gone
        await caller.call_tool(tenant_id, "remote", "echo", {"text": "x"}, idempotency_key="k")
