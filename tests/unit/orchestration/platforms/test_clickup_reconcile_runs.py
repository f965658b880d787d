"""The reconciliation job for a tenant: compares its synced accounts with ClickUp, repairs,
stores the run's figures (sync accuracy) and audits each call it made."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from orchestration.platforms.clickup import ClickUpAdapter
from orchestration.platforms.clickup_reconcile_runs import (
    SqlAccountWriter,
    reconcile_all,
    reconcile_tenant,
)
from orchestration.platforms.clickup_sync import ClickUpSync, ClickUpSyncSettings
from orchestration.platforms.config_store import load_tool_config, save_tool_config
from orchestration.platforms.mappings import SqlMappingStore
from orchestration.platforms.resilience import ResilienceRegistry
from servers.http.dashboard_data import dashboard_snapshot
from shared.crypto import CredentialCipher, generate_key
from shared.db.crm_tables import accounts
from shared.db.database import Database
from shared.db.orchestration_tables import audit_log, sync_reconciliations
from shared.errors import NotFoundError
from shared.tenants import create_tenant
from tests.fakes.clickup import ClickUpFake
from tests.unit.orchestration.platforms.test_clickup import FIELDS, SETTINGS, TOKEN


def _ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


async def _account_row(db: Database, account_id: uuid.UUID) -> dict[str, Any]:
    async with db.engine.connect() as conn:
        row = (
            (await conn.execute(sa.select(accounts).where(accounts.c.id == account_id)))
            .mappings()
            .one()
        )
    return dict(row)


async def test_a_run_repairs_drift_stores_its_accuracy_and_audits_its_calls(
    sqlite_db: Database, registry: ResilienceRegistry
) -> None:
    db = sqlite_db
    cipher = CredentialCipher(generate_key())
    tenant = await create_tenant(db, "acme")
    fake = ClickUpFake(token=TOKEN)
    for list_id in ("L1", "L2", "L3", "L4"):
        fake.add_list(list_id, list_id, FIELDS)
    ids = [uuid.uuid4(), uuid.uuid4()]
    async with db.transaction() as conn:
        for n, account_id in enumerate(ids):
            await conn.execute(
                sa.insert(accounts).values(
                    id=account_id,
                    tenant_id=tenant.id,
                    name=f"Clinic {n}",
                    industry="Dentist",
                    lifecycle_stage="qualified",
                    lead_score=80.0,
                )
            )
    await save_tool_config(
        db,
        cipher,
        tenant_id=tenant.id,
        tool_name="clickup",
        api_endpoint="http://clickup.test/api/v2",
        credentials={"api_token": TOKEN},
        settings={**SETTINGS, "reminder_days": None},
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app()))
    config = await load_tool_config(db, cipher, tenant.id, "clickup")
    adapter = ClickUpAdapter(client, config, registry=registry, mappings=SqlMappingStore(db))
    sync = ClickUpSync(
        adapter, ClickUpSyncSettings.from_settings(config.settings), adapter.mappings
    )
    tasks = [await sync.sync_account(tenant.id, await _account_row(db, i)) for i in ids]
    adapter.http.counter.take_audit()  # the setup's calls are not the job's

    now = datetime.now(UTC)
    # Clinic 0: a score typed in ClickUp long ago -> the CRM wins, ClickUp is repaired.
    fake.tasks[tasks[0].task_id]["_fields"]["f-score"] = 12
    fake.tasks[tasks[0].task_id]["date_updated"] = _ms(now - timedelta(days=1))
    # Clinic 1: renamed in ClickUp after the CRM changed -> the CRM takes the new name.
    fake.tasks[tasks[1].task_id]["name"] = "Clinic One Renamed"
    fake.tasks[tasks[1].task_id]["date_updated"] = _ms(now + timedelta(minutes=5))
    before = len(fake.plan.requests)

    run = await reconcile_tenant(
        db, cipher, tenant.id, client, triggered_by="schedule", registry=registry
    )

    figures = run.as_dict()
    assert figures["records"] == 2 and figures["drifted"] == 2 and figures["repaired"] == 2
    assert figures["drift_by_field"] == {"lead_score": 1, "name": 1}
    assert figures["accuracy_pct"] == round(100 * (figures["fields_compared"] - 2) / 8, 2)
    assert fake.tasks[tasks[0].task_id]["_fields"]["f-score"] == 80
    assert (await _account_row(db, ids[1]))["name"] == "Clinic One Renamed"
    async with db.engine.connect() as conn:
        stored = (await conn.execute(sa.select(sync_reconciliations))).mappings().one()
        audited = (
            (await conn.execute(sa.select(audit_log).where(audit_log.c.tenant_id == tenant.id)))
            .mappings()
            .all()
        )
    assert stored["accuracy_pct"] == figures["accuracy_pct"]
    assert (stored["drifted"], stored["repaired"], stored["triggered_by"]) == (2, 2, "schedule")
    job_calls = [a for a in audited if a["actor"] == "schedule"]
    assert len(job_calls) == len(fake.plan.requests) - before  # one row per request sent

    data = await dashboard_snapshot(db, tenant.id, registry=registry)
    metrics = data["success_metrics"]
    assert metrics["sync_accuracy_pct"] == figures["accuracy_pct"]
    assert metrics["sync_reconciliation"]["runs_in_window"] == 1
    assert metrics["sync_reconciliation"]["repaired"] == 2


async def test_without_clickup_configured_nothing_is_stored(sqlite_db: Database) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    async with httpx.AsyncClient() as client:
        with pytest.raises(NotFoundError):
            await reconcile_tenant(sqlite_db, CredentialCipher(generate_key()), tenant.id, client)
    async with sqlite_db.engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(sync_reconciliations)) == 0


async def test_the_account_writer_takes_only_sane_values(sqlite_db: Database) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    account_id = uuid.uuid4()
    async with sqlite_db.transaction() as conn:
        await conn.execute(
            sa.insert(accounts).values(
                id=account_id, tenant_id=tenant.id, name="Smile", lead_score=50.0
            )
        )
    writer = SqlAccountWriter(sqlite_db, tenant.id)
    await writer.update_account_fields(
        str(account_id), {"lead_score": "930", "qualification_status": "hot", "industry": "Vet"}
    )
    row = await _account_row(sqlite_db, account_id)
    assert (row["lead_score"], row["industry"]) == (50.0, "Vet")  # 930 is no score


async def test_reconcile_all_runs_each_tenant_and_says_why_one_could_not(
    sqlite_db: Database, registry: ResilienceRegistry
) -> None:
    cipher = CredentialCipher(generate_key())
    ready = await create_tenant(sqlite_db, "ready")
    broken = await create_tenant(sqlite_db, "broken")
    await create_tenant(sqlite_db, "no-clickup")
    for tenant, settings in ((ready, SETTINGS), (broken, {})):
        await save_tool_config(
            sqlite_db,
            cipher,
            tenant_id=tenant.id,
            tool_name="clickup",
            api_endpoint="http://clickup.test/api/v2",
            credentials={"api_token": TOKEN},
            settings=settings,
        )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=ClickUpFake(token=TOKEN).app()))

    results = await reconcile_all(sqlite_db, cipher, client, registry=registry)

    assert set(results) == {ready.id, broken.id}
    done = results[ready.id]
    assert not isinstance(done, str) and done.triggered_by == "schedule"
    assert "no 'lists'" in str(results[broken.id])
    async with sqlite_db.engine.connect() as conn:
        stored = (await conn.execute(sa.select(sync_reconciliations.c.tenant_id))).all()
    assert [row[0] for row in stored] == [ready.id]

    # Another worker's loop within the interval skips the tenant reconciled just now, but
    # still retries the one whose run failed.
    again = await reconcile_all(
        sqlite_db, cipher, client, registry=registry, skip_runs_within_s=3600
    )
    assert set(again) == {broken.id}
    later = await reconcile_all(sqlite_db, cipher, client, registry=registry, skip_runs_within_s=0)
    assert set(later) == {ready.id, broken.id}
