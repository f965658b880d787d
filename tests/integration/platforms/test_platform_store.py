"""Tool configurations, usage counters, health fields and external mappings on both stores."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import sqlalchemy as sa

from orchestration.platforms.base import ConnectionStatus, ToolStatus
from orchestration.platforms.config_store import (
    list_tool_configs,
    load_tool_config,
    rotate_credentials,
    save_tool_config,
)
from orchestration.platforms.health import check_all
from orchestration.platforms.mappings import ExternalMapping, SqlMappingStore
from orchestration.platforms.resilience import ResilienceRegistry
from orchestration.platforms.usage import record_api_calls, record_health
from shared.crypto import CredentialCipher, generate_key
from shared.db.database import Database
from shared.db.orchestration_tables import external_tool_configs
from shared.tenants import create_tenant
from tests.fakes.make import MakeFake

TOKEN = "make-store-SECRET-1234"


async def tenant(db: Database) -> uuid.UUID:
    return (await create_tenant(db, f"t{uuid.uuid4().hex[:8]}")).id


async def test_credentials_are_stored_encrypted_and_rotate(any_db: Database) -> None:
    old_key = generate_key()
    old = CredentialCipher(old_key)
    tenant_id = await tenant(any_db)
    await save_tool_config(
        any_db,
        old,
        tenant_id=tenant_id,
        tool_name="make",
        api_endpoint="https://eu1.make.com/api/v2",
        credentials={"api_token": TOKEN},
        settings={"team_id": 7},
    )
    async with any_db.engine.connect() as conn:
        raw = (await conn.execute(sa.select(external_tool_configs.c.credentials))).scalar_one()
    assert set(raw) == {"ciphertext"} and TOKEN not in str(raw)
    config = await load_tool_config(any_db, old, tenant_id, "make")
    assert config.credentials.require("api_token") == TOKEN and config.settings == {"team_id": 7}
    assert TOKEN not in repr(config)
    new_key = generate_key()
    rotating = CredentialCipher(f"{new_key},{old_key}")
    assert await rotate_credentials(any_db, rotating) == 1
    reread = await load_tool_config(any_db, CredentialCipher(new_key), tenant_id, "make")
    assert reread.credentials.require("api_token") == TOKEN


async def test_usage_counts_reset_each_month_and_health_is_stored(any_db: Database) -> None:
    cipher = CredentialCipher(generate_key())
    tenant_id = await tenant(any_db)
    await save_tool_config(
        any_db, cipher, tenant_id=tenant_id, tool_name="clickup", credentials={"api_token": "x"}
    )
    october = datetime(2026, 10, 30, tzinfo=UTC)
    await record_api_calls(any_db, tenant_id, "clickup", calls=5, errors=1, at=october)
    await record_api_calls(any_db, tenant_id, "clickup", calls=2, at=october)
    november = datetime(2026, 11, 2, tzinfo=UTC)
    await record_api_calls(any_db, tenant_id, "clickup", calls=3, at=november)
    await record_health(
        any_db,
        tenant_id,
        "clickup",
        ToolStatus(
            name="clickup",
            connection_status=ConnectionStatus.DEGRADED,
            checked_at=november,
            latency_ms=12,
            circuit_state="half_open",
        ),
    )
    t = external_tool_configs
    async with any_db.engine.connect() as conn:
        row = (await conn.execute(sa.select(t).where(t.c.tenant_id == tenant_id))).mappings().one()
    assert row["monthly_api_calls"] == 3 and row["error_count"] == 1
    assert row["last_api_call"] == november
    assert row["connection_status"] == "degraded"
    assert row["health_check_results"]["circuit_state"] == "half_open"


async def test_mapping_is_unique_per_record_and_replaced_in_place(any_db: Database) -> None:
    store = SqlMappingStore(any_db)
    tenant_id = await tenant(any_db)
    first = ExternalMapping(tenant_id, "clickup", "accounts", "acc-1", "task-1", content_hash="a")
    await store.put(first)
    await store.put(
        ExternalMapping(
            tenant_id,
            "clickup",
            "accounts",
            "acc-1",
            "task-1",
            external_url="https://app.clickup.com/t/task-1",
            content_hash="b",
        )
    )
    found = await store.get(tenant_id, "clickup", "accounts", "acc-1")
    assert found is not None and found.content_hash == "b" and found.last_synced_at is not None
    assert len(await store.all(tenant_id, "clickup")) == 1
    by_task = await store.by_external_id(tenant_id, "clickup", "task-1")
    assert by_task is not None and by_task.crm_id == "acc-1"


async def test_health_monitor_checks_each_tool_and_records_status(sqlite_db: Database) -> None:
    cipher = CredentialCipher(generate_key())
    tenant_id = await tenant(sqlite_db)
    fake = MakeFake(token=TOKEN)
    await save_tool_config(
        sqlite_db,
        cipher,
        tenant_id=tenant_id,
        tool_name="make",
        api_endpoint="http://eu1.make.test/api/v2",
        credentials={"api_token": "wrong-token-SECRET"},
    )
    await save_tool_config(
        sqlite_db, cipher, tenant_id=tenant_id, tool_name="apify", credentials={}
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app())) as client:
        statuses = await check_all(sqlite_db, cipher, client, registry=ResilienceRegistry())
    by_name = {s.name: s for s in statuses}
    assert by_name["make"].connection_status is ConnectionStatus.UNAUTHORIZED
    assert by_name["apify"].connection_status is ConnectionStatus.DOWN
    assert "api_token" in (by_name["apify"].detail or "")
    configs = {c.tool_name: c for c in await list_tool_configs(sqlite_db, cipher, tenant_id)}
    assert configs["make"].connection_status == "unauthorized"
    t = external_tool_configs
    async with sqlite_db.engine.connect() as conn:
        calls = (
            await conn.execute(
                sa.select(t.c.monthly_api_calls, t.c.error_count).where(t.c.tool_name == "make")
            )
        ).one()
    assert tuple(calls) == (1, 1)


async def test_a_workflow_result_is_stored_by_the_executions_recorder(any_db: Database) -> None:
    from orchestration.executions import insert_execution, load_execution, update_execution
    from orchestration.platforms.base import ResultStatus, WorkflowResult

    tenant_id = await tenant(any_db)
    result = WorkflowResult(
        platform="n8n",
        status=ResultStatus.COMPLETED,
        output={"ok": True},
        external_execution_id="1234",
        api_calls=2,
        duration_ms=130,
    )
    async with any_db.transaction() as conn:
        execution = await insert_execution(conn, tenant_id=tenant_id, status="running")
        await update_execution(conn, execution.id, **result.execution_fields())
    async with any_db.engine.connect() as conn:
        stored = await load_execution(conn, tenant_id, execution.id)
    assert stored is not None and stored.status == "completed"
    assert stored.execution_platform == "n8n"
    assert stored.execution_result == {"output": {"ok": True}, "external_execution_id": "1234"}


async def test_tenant_tools_are_built_and_misconfigured_ones_explained(
    sqlite_db: Database,
) -> None:
    from orchestration.platforms.tools import load_tenant_tools

    cipher = CredentialCipher(generate_key())
    tenant_id = await tenant(sqlite_db)
    await save_tool_config(
        sqlite_db,
        cipher,
        tenant_id=tenant_id,
        tool_name="make",
        api_endpoint="https://eu1.make.com/api/v2",
        credentials={"api_token": TOKEN},
    )
    await save_tool_config(
        sqlite_db,
        cipher,
        tenant_id=tenant_id,
        tool_name="clickup",
        credentials={"token": "misnamed"},
    )
    async with httpx.AsyncClient() as client:
        tools = await load_tenant_tools(sqlite_db, cipher, tenant_id, client)
    assert set(tools.adapters) == {"make"} and tools.connection_status == {"make": "active"}
    assert "lack 'api_token'" in tools.unusable["clickup"] and "misnamed" not in str(tools)
