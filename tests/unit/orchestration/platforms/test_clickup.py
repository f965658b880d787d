from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import httpx
import pytest

from orchestration.platforms.base import ExecutionContext, ResultStatus
from orchestration.platforms.clickup import ClickUpAdapter
from orchestration.platforms.clickup_sync import ClickUpSync, ClickUpSyncSettings, idempotency_tag
from orchestration.platforms.config_store import Credentials, ToolConfig
from orchestration.platforms.errors import PlatformAuthError, RateLimitedError
from orchestration.platforms.mappings import InMemoryMappingStore
from orchestration.platforms.resilience import ResilienceRegistry, RetryPolicy
from tests.fakes.clickup import ClickUpFake
from tests.unit.orchestration.platforms.conftest import FakeClock

TOKEN = "pk_12345_SECRETTOKENVALUE"
STATUS_OPTIONS = [{"id": "opt-hot", "name": "Hot", "orderindex": 0}]
FIELDS = [
    {"id": "f-score", "name": "Lead score", "type": "number"},
    {
        "id": "f-status",
        "name": "Qualification",
        "type": "drop_down",
        "type_config": {"options": STATUS_OPTIONS},
    },
    {"id": "f-industry", "name": "Industry", "type": "short_text"},
]
SETTINGS = {
    "lists": {
        "qualified_prospects": "L1",
        "active_customers": "L2",
        "at_risk_customers": "L3",
        "completed_deals": "L4",
    },
    "field_ids": {
        "lead_score_field": "f-score",
        "status_field": "f-status",
        "industry_field": "f-industry",
    },
    "assignees_by_industry": {"dentist": [11], "default": [99]},
    "reminder_days": 3,
    "stage_statuses": {"customer": "active customer"},
}


@pytest.fixture
def fake() -> ClickUpFake:
    fake = ClickUpFake(token=TOKEN)
    for list_id, name in [
        ("L1", "Qualified Prospects"),
        ("L2", "Active Customers"),
        ("L3", "At-Risk Customers"),
        ("L4", "Completed Deals"),
    ]:
        fake.add_list(list_id, name, FIELDS)
    return fake


def adapter_for(
    fake: ClickUpFake, tenant_id: uuid.UUID, registry: ResilienceRegistry, token: str = TOKEN
) -> ClickUpAdapter:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app()))
    config = ToolConfig(
        tenant_id=tenant_id,
        tool_name="clickup",
        api_endpoint="http://clickup.test/api/v2",
        credentials=Credentials({"api_token": token}, tool="clickup"),
        settings=SETTINGS,
    )
    return ClickUpAdapter(client, config, registry=registry, policy=RetryPolicy(timeout=30))


def account(**overrides: Any) -> dict[str, Any]:
    base = {
        "id": "acc-1",
        "name": "Bright Smiles Dental",
        "industry": "Dentist",
        "lifecycle_stage": "qualified",
        "lead_score": 86.6,
        "qualification_status": "hot",
        "city": "Austin",
    }
    return {**base, **overrides}


async def test_sync_creates_task_with_mapped_fields_assignee_tag_and_reminder(
    fake: ClickUpFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    adapter = adapter_for(fake, tenant_id, registry)
    sync = ClickUpSync(adapter, ClickUpSyncSettings.from_settings(SETTINGS), InMemoryMappingStore())
    outcome = await sync.sync_account(tenant_id, account())
    assert outcome.action == "created" and outcome.list_id == "L1"
    task = fake.tasks[outcome.task_id]
    assert task["_fields"] == {"f-score": 87, "f-status": "opt-hot", "f-industry": "Dentist"}
    assert [a["id"] for a in task["assignees"]] == [11]  # assigned by industry
    assert task["tags"] == [{"name": idempotency_tag(tenant_id, "accounts", "acc-1")}]
    reminder = fake.tasks[outcome.reminder_task_id or ""]
    create_calls = fake.plan.matching("POST", "/api/v2/list/L1/task")
    assert create_calls[-1].json()["parent"] == outcome.task_id
    assert int(reminder["due_date"]) > 0
    assert all(r.headers["authorization"] == TOKEN for r in fake.plan.requests)


async def test_resync_and_retry_never_create_a_second_task(
    fake: ClickUpFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    adapter = adapter_for(fake, tenant_id, registry)
    settings = ClickUpSyncSettings.from_settings(SETTINGS)
    mappings = InMemoryMappingStore()
    first = await ClickUpSync(adapter, settings, mappings).sync_account(tenant_id, account())
    again = await ClickUpSync(adapter, settings, mappings).sync_account(tenant_id, account())
    assert again.action == "unchanged" and again.task_id == first.task_id
    # A crash between ClickUp's answer and the mapping write: no mapping, the tag finds it.
    lost = await ClickUpSync(adapter, settings, InMemoryMappingStore()).sync_account(
        tenant_id, account()
    )
    assert lost.action == "adopted" and lost.task_id == first.task_id
    parents = [t for t in fake.tasks.values() if not t["name"].startswith("Follow up")]
    assert len(parents) == 1


async def test_stage_change_moves_task_or_falls_back_to_a_status(
    fake: ClickUpFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    adapter = adapter_for(fake, tenant_id, registry)
    settings = ClickUpSyncSettings.from_settings(SETTINGS)
    mappings = InMemoryMappingStore()
    sync = ClickUpSync(adapter, settings, mappings)
    created = await sync.sync_account(tenant_id, account())
    moved = await sync.sync_account(tenant_id, account(lifecycle_stage="at_risk"))
    assert moved.moved_by == "list" and {"id": "L3"} in fake.tasks[created.task_id]["locations"]
    fake.allow_multiple_lists = False
    fallback = await sync.sync_account(tenant_id, account(lifecycle_stage="customer"))
    assert fallback.moved_by == "status"
    assert fake.tasks[created.task_id]["status"]["status"] == "active customer"


async def test_429_with_ratelimit_reset_is_waited_out_and_the_task_created_once(
    fake: ClickUpFake, tenant_id: uuid.UUID, registry: ResilienceRegistry, clock: FakeClock
) -> None:
    reset = str(int(time.time()) + 5)
    fake.plan.add(
        path_prefix="/api/v2/list/L1/task",
        method="POST",
        status=429,
        times=1,
        body={"err": "Rate limit reached", "ECODE": "APP_002"},
        headers={
            "X-RateLimit-Limit": "100",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": reset,
        },
    )
    adapter = adapter_for(fake, tenant_id, registry)
    task = await adapter.create_task("L1", {"name": "x"})
    assert len(fake.tasks) == 1 and task["id"] in fake.tasks
    assert sum(clock.sleeps) >= 4  # X-RateLimit-Reset (Unix seconds) was waited out


async def test_429_longer_than_the_budget_raises_rate_limited_with_retry_at(
    fake: ClickUpFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    fake.limit_per_minute = 1
    adapter = adapter_for(fake, tenant_id, registry)
    await adapter.validate_connection()
    with pytest.raises(RateLimitedError) as info:
        await adapter.create_task("L1", {"name": "x"})
    assert info.value.retry_at is not None
    assert not fake.tasks


async def test_bad_token_maps_to_auth_error_without_the_token(
    fake: ClickUpFake,
    tenant_id: uuid.UUID,
    registry: ResilienceRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "pk_wrong_SECRET_999999"
    adapter = adapter_for(fake, tenant_id, registry, token=wrong)
    with pytest.raises(PlatformAuthError) as info:
        await adapter.create_task("L1", {"name": "x"})
    assert "Token invalid" in str(info.value) and info.value.code == "OAUTH_025"
    assert wrong not in str(info.value) and wrong not in repr(adapter)
    assert wrong not in caplog.text
    assert not await adapter.validate_connection()
    status = await adapter.get_status()
    assert status.connection_status == "unauthorized"


async def test_execute_workflow_returns_a_storable_result(
    fake: ClickUpFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    class Definition:
        name = "Real-time ClickUp Synchronization"
        platform_refs = None

    adapter = adapter_for(fake, tenant_id, registry)
    context = ExecutionContext(
        tenant_id=tenant_id,
        idempotency_key="k1",
        payload={"account": account()},
        event_type="lead_qualified",
    )
    result = await adapter.execute_workflow(Definition(), context)
    assert result.status is ResultStatus.COMPLETED
    fields = result.execution_fields()
    assert fields["execution_platform"] == "clickup" and fields["external_api_calls"] >= 3
    assert fields["execution_result"]["external_execution_id"] in fake.tasks


async def test_429_past_the_budget_loses_nothing_and_the_retry_creates_one_task(
    fake: ClickUpFake, tenant_id: uuid.UUID, registry: ResilienceRegistry, clock: FakeClock
) -> None:
    fake.plan.add(
        path_prefix="/api/v2/list/L1/task",
        method="POST",
        status=429,
        times=1,
        body={"err": "Rate limit reached", "ECODE": "APP_002"},
        headers={"X-RateLimit-Reset": str(int(time.time()) + 120)},
    )
    adapter = adapter_for(fake, tenant_id, registry)
    mappings = InMemoryMappingStore()
    sync = ClickUpSync(adapter, ClickUpSyncSettings.from_settings(SETTINGS), mappings)
    with pytest.raises(RateLimitedError) as info:
        await sync.sync_account(tenant_id, account())
    assert info.value.retryable and info.value.retry_at is not None  # the queue retries then
    assert fake.tasks == {} and mappings.rows == {}
    clock.advance(120)
    created = await sync.sync_account(tenant_id, account())
    redelivered = await sync.sync_account(tenant_id, account())
    assert created.action == "created" and redelivered.action == "unchanged"
    assert len([t for t in fake.tasks.values() if not t["name"].startswith("Follow up")]) == 1
