from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from orchestration.platforms.clickup import ClickUpAdapter
from orchestration.platforms.clickup_reconcile import reconcile_accounts
from orchestration.platforms.clickup_sync import ClickUpSync, ClickUpSyncSettings
from orchestration.platforms.config_store import Credentials, ToolConfig
from orchestration.platforms.mappings import InMemoryMappingStore
from orchestration.platforms.resilience import ResilienceRegistry
from tests.fakes.clickup import ClickUpFake
from tests.unit.orchestration.platforms.test_clickup import FIELDS, SETTINGS, TOKEN, account


class RecordingWriter:
    def __init__(self) -> None:
        self.changes: dict[str, dict[str, Any]] = {}

    async def update_account_fields(self, account_id: str, changes: dict[str, Any]) -> None:
        self.changes[account_id] = changes


def ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


async def test_reconcile_repairs_drift_both_ways_and_reports_accuracy(
    tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    fake = ClickUpFake(token=TOKEN)
    for list_id in ("L1", "L2", "L3", "L4"):
        fake.add_list(list_id, list_id, FIELDS)
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
    settings = ClickUpSyncSettings.from_settings({**SETTINGS, "reminder_days": None})
    mappings = InMemoryMappingStore()
    sync = ClickUpSync(adapter, settings, mappings)
    now = datetime.now(UTC)
    crm = [account(id=f"acc-{i}", name=f"Clinic {i}", updated_at=now) for i in range(4)]
    tasks = [await sync.sync_account(tenant_id, dict(a)) for a in crm]

    # acc-0: someone typed a score in ClickUp long ago -> the CRM wins, ClickUp repaired.
    fake.tasks[tasks[0].task_id]["_fields"]["f-score"] = 12
    fake.tasks[tasks[0].task_id]["date_updated"] = ms(now - timedelta(days=1))
    # acc-1: a newer edit in ClickUp -> written back to the CRM.
    fake.tasks[tasks[1].task_id]["_fields"]["f-industry"] = "Orthodontist"
    fake.tasks[tasks[1].task_id]["date_updated"] = ms(now + timedelta(minutes=5))
    # acc-2: its task was deleted in ClickUp -> synced afresh.
    del fake.tasks[tasks[2].task_id]

    writer = RecordingWriter()
    report = await reconcile_accounts(
        adapter, settings, mappings, tenant_id, crm, crm_writer=writer
    )
    assert fake.tasks[tasks[0].task_id]["_fields"]["f-score"] == 87
    assert writer.changes == {"acc-1": {"industry": "Orthodontist"}}
    assert report.resynced == 1
    assert {(d.crm_id, d.field, d.repaired_in) for d in report.drifts} == {
        ("acc-0", "lead_score", "clickup"),
        ("acc-1", "industry", "crm"),
        ("acc-2", "task", "clickup"),
    }
    # 3 records x 4 fields compared + 1 for the missing task; 2 + 1 disagreed.
    assert report.fields_compared == 13 and report.accuracy_pct == round(100 * 10 / 13, 2)

    again = await reconcile_accounts(
        adapter, settings, mappings, tenant_id, [a for a in crm if a["id"] != "acc-1"]
    )
    assert again.accuracy_pct == 100.0 and again.drifts == []
