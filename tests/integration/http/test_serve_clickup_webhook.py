"""ClickUp -> CRM over real HTTP: a signed ClickUp webhook posted to `serve`'s app becomes an
event for the account the task stands for, the embedded worker runs the workflow it
triggers, and the workflow moves the account's lifecycle stage."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
import sqlalchemy as sa

from orchestration.executions import list_executions
from orchestration.platforms.mappings import ExternalMapping, SqlMappingStore
from shared.db.database import Database
from shared.db.schema import accounts, event_queue
from shared.tenants import Tenant
from tests.fakes.clickup import sign_delivery
from tests.integration.http.serve_harness import ServedTenant, finished_executions, serve_tenant

SECRET = "clickup-webhook-SECRET-1"
TASK_ID = "86abc1"
WON = """name: Won in ClickUp
trigger:
  type: event
  event_type: clickup_task_status_updated
  condition: 'new_status == "won"'
primary_platform: internal
steps:
  - name: mark customer
    action: update_crm
    table: accounts
    record_id: "{{ event.customer_id }}"
    data: {lifecycle_stage: customer}
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[ServedTenant]:
    async def map_the_task(db: Database, tenant: Tenant, account_id: uuid.UUID) -> None:
        # What the CRM -> ClickUp sync left behind: the task stands for the account.
        await SqlMappingStore(db).put(
            ExternalMapping(tenant.id, "clickup", "accounts", str(account_id), TASK_ID)
        )

    with serve_tenant(
        tmp_path / "clickup.sqlite3",
        tool="clickup",
        api_endpoint="http://127.0.0.1:9/api/v2",  # never called: ClickUp -> CRM only
        credentials={"api_token": "pk_unused_token", "webhook_secret": SECRET},
        workflow=WON,
        prepare=map_the_task,
    ) as served:
        yield served


def _delivery(status: str, history_id: str, changed_ms: int) -> bytes:
    return json.dumps(
        {
            "webhook_id": "wh-1",
            "event": "taskStatusUpdated",
            "task_id": TASK_ID,
            "history_items": [
                {
                    "id": history_id,
                    "field": "status",
                    "date": str(changed_ms),
                    "user": {"id": 42},
                    "before": {"status": "proposal"},
                    "after": {"status": status},
                }
            ],
        }
    ).encode()


async def _stage(served: ServedTenant) -> str:
    async with served.db.engine.connect() as conn:
        stage = await conn.scalar(
            sa.select(accounts.c.lifecycle_stage).where(accounts.c.id == served.account_id)
        )
    return str(stage)


async def test_a_signed_clickup_status_change_updates_the_crm_through_a_workflow(
    served: ServedTenant,
) -> None:
    changed_ms = int(time.time() * 1000)
    body = _delivery("won", "h-1", changed_ms)
    hook = f"/webhooks/clickup?tenant={served.tenant.id}"
    async with httpx.AsyncClient(base_url=served.url) as http:
        forged = await http.post(hook, content=body, headers={"X-Signature": "0" * 64})
        assert forged.status_code == 401, forged.text  # a wrong signature changes nothing
        answer = await http.post(
            hook, content=body, headers={"X-Signature": sign_delivery(SECRET, body)}
        )
        assert answer.status_code == 202, answer.text
        again = await http.post(
            hook, content=body, headers={"X-Signature": sign_delivery(SECRET, body)}
        )
        assert again.json()["duplicate"] is True  # ClickUp redelivers; accepted once

    runs = await finished_executions(served)
    assert len(runs) == 1 and runs[0].workflow_name == "Won in ClickUp"
    assert runs[0].status == "completed", runs[0].error_details
    assert await _stage(served) == "customer"
    async with served.db.engine.connect() as conn:
        event = (
            (
                await conn.execute(
                    sa.select(event_queue).where(event_queue.c.event_source == "clickup")
                )
            )
            .mappings()
            .one()
        )
    # The event names the account through the mapping, and carries ClickUp's change time.
    assert event["customer_id"] == str(served.account_id)
    assert event["event_type"] == "clickup_task_status_updated"
    occurred = event["occurred_at"]
    assert occurred is not None and abs(occurred.timestamp() * 1000 - changed_ms) < 1000


async def test_a_status_the_workflow_does_not_match_leaves_the_crm_alone(
    served: ServedTenant,
) -> None:
    body = _delivery("in review", "h-2", int(time.time() * 1000))
    async with httpx.AsyncClient(base_url=served.url) as http:
        answer = await http.post(
            f"/webhooks/clickup?tenant={served.tenant.id}",
            content=body,
            headers={"X-Signature": sign_delivery(SECRET, body)},
        )
    assert answer.status_code == 202, answer.text
    deadline = time.monotonic() + 30
    while True:  # the event is handled (no workflow matched), then nothing else happens
        async with served.db.engine.connect() as conn:
            status = await conn.scalar(
                sa.select(event_queue.c.status).where(event_queue.c.event_source == "clickup")
            )
        if status in {"completed", "failed"}:
            break
        assert time.monotonic() < deadline, f"event still {status}"
        await anyio.sleep(0.05)
    assert await list_executions(served.db, served.tenant.id) == []
    assert await _stage(served) == "prospect"
