"""The runtime's adapters: CRM, analytics, email discovery, MCP calls, tenancy, routing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from mcp.server import MCPServer
from pydantic import SecretStr

from orchestration.executions import insert_execution, list_executions
from orchestration.platforms.errors import PlatformAuthError, RateLimitedError
from orchestration.queue.types import ClaimedEvent, HandlerOutcome, OutcomeKind
from orchestration.runtime.analyzer import AnalyticsAnalyzer
from orchestration.runtime.crm import RepositoryWorkflowCrm
from orchestration.runtime.email_finder import HttpEmailFinder, UnconfiguredEmailFinder
from orchestration.runtime.mcp_caller import RegisteredMcpCaller
from orchestration.runtime.routing import PlatformDispatcher
from orchestration.runtime.tenancy import TenantCache, TenantScopedHandler, current_tenant
from orchestration.runtime.tools import WorkerTools, platform_step_errors
from orchestration.workflows.engine import RunResult
from orchestration.workflows.errors import StepFailedError, TransientStepError
from orchestration.workflows.store import save_definition
from shared.crm.sql import SqlCrmRepository
from shared.crypto import CredentialCipher, generate_key
from shared.db.crm_tables import accounts
from shared.db.database import Database
from shared.db.orchestration_tables import mcp_servers
from shared.db.types import utcnow
from shared.tenants import create_tenant
from tests.unit.orchestration.claimed_events import claimed_event

LEAD = {"name": "Bright Smiles Dental", "industry": "dentist", "gmb_rating": 4.8}


# -- analytics -----------------------------------------------------------------------------


async def test_qualify_lead_answers_the_score_under_the_name_templates_test() -> None:
    result = await AnalyticsAnalyzer().analyze(
        "qualify_lead", {**LEAD, "review_count": 140, "unrelated": "ignored"}
    )
    assert 0 < result["qualification_score"] <= 100
    assert result["qualification_score"] == result["score"]
    assert result["grade"] in ("A", "B", "C", "D")


async def test_churn_scores_health_from_plain_fields() -> None:
    result = await AnalyticsAnalyzer().analyze(
        "churn", {"account_id": "a1", "days_since_last_activity": 120, "complaints_last_90_days": 4}
    )
    assert result["customer_id"] == "a1"
    assert 0 <= result["churn_probability"] <= 1


async def test_bad_analysis_input_and_unknown_kinds_fail_with_the_reason() -> None:
    analyzer = AnalyticsAnalyzer()
    with pytest.raises(StepFailedError, match="rating"):
        await analyzer.analyze("qualify_lead", {"name": "X", "rating": 9})
    with pytest.raises(StepFailedError, match="known kinds"):
        await analyzer.analyze("horoscope", {})
    with pytest.raises(StepFailedError, match="predict_customer_lifetime_value"):
        await analyzer.analyze("ltv", {})


# -- CRM -----------------------------------------------------------------------------------


async def _account(db: Database, tenant_id: uuid.UUID, name: str, rating: float) -> uuid.UUID:
    account_id = uuid.uuid4()
    async with db.transaction() as conn:
        await conn.execute(
            sa.insert(accounts).values(
                id=account_id, tenant_id=tenant_id, name=name, gmb_rating=rating
            )
        )
    return account_id


async def test_crm_query_filters_with_the_condition_language_and_writes_through_the_repo(
    sqlite_db: Database,
) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    good = await _account(sqlite_db, tenant.id, "Good Dental", 4.9)
    await _account(sqlite_db, tenant.id, "Poor Plumbing", 2.1)
    crm = RepositoryWorkflowCrm(SqlCrmRepository(sqlite_db, tenant.id), db=sqlite_db)

    found = await crm.query("accounts", fields=["name"], filter="gmb_rating > 4", limit=10)
    assert found == [{"name": "Good Dental"}]

    changed = await crm.update(
        "accounts", str(good), {"lifecycle_stage": "qualified"}, idempotency_key="k1"
    )
    assert changed["new_stage"] == "qualified"
    due = datetime.now(UTC) + timedelta(days=3)
    activity = await crm.create_activity(
        {"type": "follow_up_call", "account_id": str(good), "subject": "Call back"},
        due,
        idempotency_key="k2",
    )
    assert activity["kind"] == "follow_up_call" and activity["account_id"] == str(good)


async def test_crm_refuses_unknown_tables_and_bad_ids_as_step_failures(
    sqlite_db: Database,
) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    crm = RepositoryWorkflowCrm(SqlCrmRepository(sqlite_db, tenant.id), db=sqlite_db)
    with pytest.raises(StepFailedError, match="use one of"):
        await crm.query("secrets", fields=None, filter=None, limit=5)
    with pytest.raises(StepFailedError, match="not a CRM id"):
        await crm.update("accounts", "nope", {"lifecycle_stage": "lead"}, idempotency_key="k")
    with pytest.raises(StepFailedError, match="filter"):
        await crm.query("accounts", fields=None, filter="rating >", limit=5)


# -- email discovery -----------------------------------------------------------------------


async def test_without_a_provider_find_email_fails_saying_what_to_set() -> None:
    with pytest.raises(StepFailedError, match="SWITCHBOARD_WORKER_EMAIL_FINDER_URL"):
        await UnconfiguredEmailFinder().find_email({"domain": "acme.com"}, idempotency_key="k")


async def test_the_http_email_finder_sends_the_key_and_reads_the_email() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if b"nobody.com" in request.content:
            return httpx.Response(404, json={"error": "not_found"})
        return httpx.Response(200, json={"email": "jane@acme.com", "email_class": "verified"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        finder = HttpEmailFinder(client, "https://email.test/search", SecretStr("KEY-123"))
        found = await finder.find_email({"domain": "acme.com"}, idempotency_key="k1")
        missing = await finder.find_email({"domain": "nobody.com"}, idempotency_key="k2")
    assert found["email"] == "jane@acme.com" and found["status"] == "verified"
    assert missing["found"] is False
    assert seen[0].headers["authorization"] == "Bearer KEY-123"
    assert "KEY-123" not in repr(finder)


# -- MCP -----------------------------------------------------------------------------------


def _echo_server() -> MCPServer[Any]:
    server: MCPServer[Any] = MCPServer("echo-test")

    @server.tool()
    async def echo(text: str) -> dict[str, str]:  # pyright: ignore[reportUnusedFunction]
        return {"echoed": text}

    @server.tool()
    async def wipe() -> str:  # pyright: ignore[reportUnusedFunction]
        return "wiped"

    return server


async def _register(db: Database, tenant_id: uuid.UUID, **values: Any) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            sa.insert(mcp_servers).values(
                id=uuid.uuid4(), tenant_id=tenant_id, server_name="echo", **values
            )
        )


async def _last_accessed(db: Database, tenant_id: uuid.UUID) -> Any:
    async with db.engine.connect() as conn:
        return await conn.scalar(
            sa.select(mcp_servers.c.last_accessed).where(mcp_servers.c.tenant_id == tenant_id)
        )


async def test_mcp_calls_our_server_in_process_within_its_permissions(
    sqlite_db: Database,
) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    await _register(sqlite_db, tenant.id, access_permissions={"allowed_tools": ["echo"]})
    caller = RegisteredMcpCaller(sqlite_db, local_servers={"echo": lambda _t: _echo_server()})

    result = await caller.call_tool(tenant.id, "echo", "echo", {"text": "hi"}, idempotency_key="k")
    assert result == {"echoed": "hi"}
    assert await _last_accessed(sqlite_db, tenant.id) is not None
    with pytest.raises(StepFailedError, match="not in its access_permissions"):
        await caller.call_tool(tenant.id, "echo", "wipe", {}, idempotency_key="k")
    with pytest.raises(StepFailedError, match="no MCP server named 'crm'"):
        await caller.call_tool(tenant.id, "crm", "echo", {}, idempotency_key="k")


async def test_mcp_rate_limits_turn_into_a_retry_instead_of_a_long_wait(
    sqlite_db: Database,
) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    await _register(
        sqlite_db,
        tenant.id,
        available_tools=["echo"],
        rate_limits={"requests_per_minute": 1, "burst": 1},
    )
    caller = RegisteredMcpCaller(sqlite_db, local_servers={"echo": lambda _t: _echo_server()})
    await caller.call_tool(tenant.id, "echo", "echo", {"text": "1"}, idempotency_key="k1")
    with pytest.raises(TransientStepError, match="rate limit"):
        await caller.call_tool(tenant.id, "echo", "echo", {"text": "2"}, idempotency_key="k2")


# -- tenancy, errors, routing --------------------------------------------------------------


def _claimed(tenant_id: uuid.UUID) -> ClaimedEvent:
    return claimed_event(tenant_id=tenant_id, event_type="lead_qualified")


async def test_each_event_sees_its_own_tenant_and_caches_are_per_tenant() -> None:
    seen: list[uuid.UUID] = []
    built: list[uuid.UUID] = []

    async def build(tenant_id: uuid.UUID) -> str:
        built.append(tenant_id)
        return f"repo-{tenant_id}"

    cache: TenantCache[str] = TenantCache(build)

    async def inner(event: ClaimedEvent) -> HandlerOutcome:
        seen.append(current_tenant())
        await cache.get(current_tenant())
        return HandlerOutcome(OutcomeKind.COMPLETED)

    handler = TenantScopedHandler(inner)
    a, b = uuid.uuid4(), uuid.uuid4()
    for tenant in (a, b, a):
        await handler(_claimed(tenant))
    assert seen == [a, b, a] and built == [a, b]
    with pytest.raises(RuntimeError):
        current_tenant()


def test_platform_errors_become_transient_or_final_step_errors() -> None:
    with (
        pytest.raises(TransientStepError, match="rate limit"),
        platform_step_errors("create_clickup_task"),
    ):
        raise RateLimitedError("clickup rate limit reached", platform="clickup")
    with (
        pytest.raises(StepFailedError, match="refused"),
        platform_step_errors("create_clickup_task"),
    ):
        raise PlatformAuthError("clickup refused the stored credentials", platform="clickup")


async def test_an_n8n_workflow_with_no_n8n_configured_runs_internally_and_records_why(
    sqlite_db: Database,
) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    saved = await save_definition(
        sqlite_db,
        tenant.id,
        "name: Q\ntrigger: {type: event, event_type: lead_qualified}\n"
        "primary_platform: n8n\nsteps:\n  - {name: Score, action: analyze, kind: qualify_lead}\n",
    )
    async with sqlite_db.transaction() as conn:
        execution = await insert_execution(
            conn,
            workflow_definition_id=saved.stored.id,
            tenant_id=tenant.id,
            status="running",
            step_state={},
            retry_count=0,
            external_api_calls=0,
        )
    key = generate_key()
    async with httpx.AsyncClient() as client:
        tools = WorkerTools(sqlite_db, lambda: CredentialCipher(key), client, ttl_s=0)
        ran: list[bool] = []

        async def run_internal() -> RunResult:
            ran.append(True)
            return RunResult("completed")

        result = await PlatformDispatcher(sqlite_db, tools)(
            saved.stored, _claimed(tenant.id), execution, run_internal, last_attempt=False
        )
    assert result.status == "completed" and ran == [True]
    (stored,) = await list_executions(sqlite_db, tenant.id)
    routing = stored.routing or {}
    assert routing["ran_on"] == "internal"
    assert routing["skipped"] == {"n8n": "n8n is not configured for this tenant"}


async def test_background_fires_due_schedules_and_keeps_platform_health_current(
    sqlite_db: Database,
) -> None:
    import anyio
    from pydantic import SecretStr

    from orchestration.platforms.config_store import save_tool_config
    from orchestration.runtime import RuntimeConfig, open_worker_runtime
    from orchestration.workflows.publishing import SCHEDULE_EVENT_TYPE
    from shared.config import Settings
    from shared.db.orchestration_tables import (
        event_queue,
        external_tool_configs,
        workflow_definitions,
    )

    tenant = await create_tenant(sqlite_db, "acme")
    saved = await save_definition(
        sqlite_db,
        tenant.id,
        "name: Nightly\ntrigger: {type: schedule, cron: '* * * * *'}\n"
        "steps:\n  - {name: Score, action: analyze, kind: churn}\n",
    )
    async with sqlite_db.transaction() as conn:  # it existed before this minute's tick
        await conn.execute(
            sa.update(workflow_definitions)
            .where(workflow_definitions.c.id == saved.stored.id)
            .values(created_at=utcnow() - timedelta(minutes=5))
        )
    key = generate_key()
    await save_tool_config(
        sqlite_db,
        CredentialCipher(key),
        tenant_id=tenant.id,
        tool_name="n8n",
        api_endpoint="http://n8n.test",
        credentials={"api_key": "n8n-SECRET"},
    )
    probes: list[str] = []

    def n8n(request: httpx.Request) -> httpx.Response:
        probes.append(request.url.path)
        return httpx.Response(200, json={"data": [], "nextCursor": None})

    settings = Settings(database_url="sqlite://", secret_key=SecretStr(key))
    config = RuntimeConfig(schedule_period_s=0.05, health_check_interval_s=0.05)

    async def done() -> bool:
        async with sqlite_db.engine.connect() as conn:
            ticks = await conn.scalar(
                sa.select(sa.func.count()).where(event_queue.c.event_type == SCHEDULE_EVENT_TYPE)
            )
            checked = await conn.scalar(sa.select(external_tool_configs.c.last_health_check))
        return bool(ticks) and checked is not None

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(n8n)) as client,
        open_worker_runtime(settings, sqlite_db, config=config, client=client) as runtime,
        anyio.create_task_group() as tasks,
    ):
        tasks.start_soon(runtime.run_background)
        for _ in range(500):  # polling the store with a deadline: no event to wait on
            if await done():
                break
            await anyio.sleep(0.02)
        else:
            pytest.fail("no schedule tick or health check within 10s")
        tasks.cancel_scope.cancel()
    assert probes and probes[0] == "/api/v1/workflows"


@pytest.mark.parametrize(
    ("state", "routing", "status", "runs_internally"),
    [
        # checkpoints exist: finish on the internal engine, never also on a platform
        ({"steps": {"score": {"status": "completed"}}}, None, "retrying", True),
        # a platform accepted the run and the event came again: do nothing twice
        ({}, {"ran_on": "n8n", "attempts": []}, "running", False),
    ],
)
async def test_a_redelivered_execution_stays_where_it_started(
    sqlite_db: Database,
    state: dict[str, Any],
    routing: dict[str, Any] | None,
    status: str,
    runs_internally: bool,
) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    saved = await save_definition(
        sqlite_db,
        tenant.id,
        "name: Q\ntrigger: {type: event, event_type: lead_qualified}\n"
        "primary_platform: n8n\nsteps:\n  - {name: Score, action: analyze, kind: qualify_lead}\n",
    )
    async with sqlite_db.transaction() as conn:
        execution = await insert_execution(
            conn,
            workflow_definition_id=saved.stored.id,
            tenant_id=tenant.id,
            status=status,
            step_state=state,
            routing=routing,
            retry_count=0,
            external_api_calls=0,
        )

    def no_tools() -> CredentialCipher:
        raise AssertionError("routing must not even look at the platforms")

    ran: list[bool] = []

    async def run_internal() -> RunResult:
        ran.append(True)
        return RunResult("completed")

    async with httpx.AsyncClient() as client:
        dispatcher = PlatformDispatcher(sqlite_db, WorkerTools(sqlite_db, no_tools, client))
        result = await dispatcher(
            saved.stored, _claimed(tenant.id), execution, run_internal, last_attempt=False
        )
    assert result.status == "completed"
    assert ran == ([True] if runs_internally else [])
