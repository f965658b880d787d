"""The operations dashboard in headless Chromium against the real `serve` app: log in with an
operator key, see a workflow that failed on bad data, fix the data, click Retry, and watch
the embedded worker complete the same execution, all without reloading the page."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from orchestration.events.models import CustomerEvent
from orchestration.events.publish import publish
from orchestration.executions import list_executions
from orchestration.workflows.store import save_definition
from servers.http.app import build_app
from shared.auth.api_keys import create_api_key
from shared.auth.principal import Role
from shared.config import Settings
from shared.crypto import generate_key
from shared.db.database import Database
from shared.db.migrate import upgrade
from shared.db.schema import accounts
from shared.tenants import Tenant, create_tenant
from tests.fakes.server import serve_in_thread
from tests.services import REQUIRE_SERVICES

CHROMIUM = os.environ.get("SWITCHBOARD_TEST_CHROMIUM", "/usr/bin/chromium")
LAUNCH_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEADLINE_MS = 30_000
FOLLOW_UP = """name: Call hot leads
trigger: {type: event, event_type: lead_qualified, condition: "qualification_score > 80"}
primary_platform: internal
steps:
  - name: schedule call
    action: create_activity
    type: follow_up_call
    subject: "Call about the qualification"
    due_date: "+3 days"
"""


def _require_chromium() -> None:
    if shutil.which(CHROMIUM) is not None:
        return
    reason = (
        f"Chromium is not installed at {CHROMIUM}; `source .ci/services.sh && ensure_chromium` "
        "(apt-get install -y chromium)"
    )
    if REQUIRE_SERVICES:
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass
class Served:
    url: str
    db: Database
    tenant: Tenant
    operator_token: str
    account_id: uuid.UUID


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    _require_chromium()
    url = f"sqlite:///{tmp_path / 'dashboard.sqlite3'}"
    settings = Settings(database_url=url, secret_key=SecretStr(generate_key()))
    db = Database.from_url(url)
    account_id = uuid.uuid4()  # named by the event, created only later: the run fails

    async def prepare() -> tuple[Tenant, str]:
        await upgrade(db.engine)
        tenant = await create_tenant(db, "acme")
        await save_definition(db, tenant.id, FOLLOW_UP)
        key = await create_api_key(db, tenant.id, Role.OPERATOR, label="dashboard test")
        event = CustomerEvent.model_validate(
            {
                "tenantId": tenant.id,
                "customerId": str(account_id),
                "eventType": "lead_qualified",
                "eventData": {"qualification_score": 91},
                "priority": "high",
                "source": "crm",
            }
        )
        await publish(db, event)
        return tenant, key.token

    tenant, token = anyio.run(prepare)
    with serve_in_thread(build_app(settings), lifespan="on") as base:
        yield Served(base, db, tenant, token, account_id)
    anyio.run(db.dispose)


async def test_an_operator_retries_a_failed_execution_from_the_dashboard(served: Served) -> None:
    from playwright.async_api import async_playwright, expect

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_FLAGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{served.url}/dashboard")
            await page.fill("#token", served.operator_token)
            await page.click("#login button[type=submit]")
            await expect(page.locator("#status")).to_contain_text("operator", timeout=DEADLINE_MS)

            # The embedded worker runs the workflow; it fails: the account does not exist.
            retry = page.locator("#failing button[data-testid^='retry-']")
            await expect(retry).to_have_count(1, timeout=DEADLINE_MS)
            await expect(page.locator("#failing")).to_contain_text("schedule call")
            [failed] = await list_executions(served.db, served.tenant.id)
            assert failed.status == "failed"
            assert await retry.get_attribute("data-testid") == f"retry-{failed.id}"

            async with served.db.transaction() as conn:  # fix the data, then retry
                await conn.execute(
                    sa.insert(accounts).values(
                        id=served.account_id, tenant_id=served.tenant.id, name="Smile Dental"
                    )
                )
            await retry.click()

            # Polling, not a reload, shows the outcome: no failing execution, event completed.
            await expect(page.locator("#action-message")).to_contain_text("queued again")
            await expect(page.locator("#failing")).to_contain_text(
                "no failing executions", timeout=DEADLINE_MS
            )
            await expect(page.locator("#events")).to_contain_text("completed")
            await expect(page.locator("#workflows")).to_contain_text("100.0%")
        finally:
            await browser.close()

    [after] = await list_executions(served.db, served.tenant.id)
    assert after.id == failed.id  # the same execution, resumed
    assert after.status == "completed"
    async with httpx.AsyncClient(base_url=served.url) as http:
        scraped = await http.get("/metrics")  # no token: Prometheus scrapes it as is
    assert scraped.status_code == 200
    assert 'switchboard_workflow_executions{platform="internal",status="completed"' in scraped.text
