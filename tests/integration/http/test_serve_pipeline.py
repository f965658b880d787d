"""The whole product in one `serve` process: a signed webhook becomes an event, the
embedded worker runs the matching workflow, and the workflow writes to the CRM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from orchestration.platforms.config_store import save_tool_config
from servers.http.app import HttpOptions, build_app
from shared.config import Settings
from shared.crypto import cipher_from_settings, generate_key
from shared.db.database import Database
from shared.db.schema import activities, event_queue
from shared.tenants import create_tenant
from shared.webhooks.signing import sign_switchboard
from tests.fakes.server import serve_in_thread
from tests.integration.http.serve_harness import ServedTenant, finished_executions, serve_tenant

SECRET = "whsec-pipeline"
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


@pytest.fixture
def product(tmp_path: Path) -> Iterator[ServedTenant]:
    with serve_tenant(
        tmp_path / "product.sqlite3",
        tool="generic",
        credentials={"webhook_secret": SECRET},
        workflow=FOLLOW_UP,
    ) as served:
        yield served


async def test_a_signed_webhook_runs_its_workflow_in_the_embedded_worker(
    product: ServedTenant,
) -> None:
    body = json.dumps(
        {
            "eventId": "crm-qualified-1",
            "eventType": "lead_qualified",
            "customerId": str(product.account_id),
            "eventData": {"qualification_score": 91},
            "priority": "critical",
        }
    ).encode()
    async with httpx.AsyncClient(base_url=product.url) as http:
        answer = await http.post(
            f"/webhooks/generic?tenant={product.tenant.id}",
            content=body,
            headers=sign_switchboard(SECRET, body),
        )
        assert answer.status_code == 202, answer.text
        ready = (await http.get("/readyz")).json()
    assert ready["checks"]["worker"]["ok"] is True

    runs = await finished_executions(product)
    assert runs[0].status == "completed", runs[0].error_details
    assert runs[0].workflow_name == "Call hot leads"
    async with product.db.engine.connect() as conn:
        rows = (
            (
                await conn.execute(
                    sa.select(activities).where(activities.c.tenant_id == product.tenant.id)
                )
            )
            .mappings()
            .all()
        )
    assert [(r["kind"], r["created_by"], r["account_id"]) for r in rows] == [
        ("follow_up_call", "automation", product.account_id)
    ]
    assert rows[0]["due_at"] is not None


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest) -> str:
    """A migrated, empty store of either kind (the Postgres one skips on a dev machine
    without the service, and fails in CI)."""
    if request.param == "sqlite":
        request.getfixturevalue("sqlite_db")  # migrates the file
        url: str = request.getfixturevalue("sqlite_url")
        return url
    postgres: str = request.getfixturevalue("postgres_url")
    return postgres


async def test_a_burst_of_signed_webhooks_is_queued_exactly_once_each(store_url: str) -> None:
    settings = Settings(database_url=store_url, secret_key=SecretStr(generate_key()))
    db = Database.from_url(store_url)
    tenant = await create_tenant(db, "acme")
    await save_tool_config(
        db,
        cipher_from_settings(settings.secret_key),
        tenant_id=tenant.id,
        tool_name="generic",
        credentials={"webhook_secret": SECRET},
    )

    def delivery(event_id: str) -> tuple[bytes, dict[str, str]]:
        body = json.dumps({"eventId": event_id, "eventType": "lead_qualified"}).encode()
        return body, sign_switchboard(SECRET, body)

    firsts = [delivery(f"burst-{i}") for i in range(120)]
    burst = [*firsts, *firsts[:20]]  # 20 redeliveries racing their originals
    forged_body, _ = delivery("forged")
    burst.append((forged_body, sign_switchboard("not-the-secret", forged_body)))
    answers: list[httpx.Response] = []
    app = build_app(settings, HttpOptions(embedded_worker=False))
    with serve_in_thread(app, lifespan="on") as base:
        limits = httpx.Limits(max_connections=8)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:

            async def send(body: bytes, headers: dict[str, str]) -> None:
                answers.append(
                    await http.post(
                        f"/webhooks/generic?tenant={tenant.id}", content=body, headers=headers
                    )
                )

            async with anyio.create_task_group() as senders:
                for body, headers in burst:
                    senders.start_soon(send, body, headers)
    try:
        async with db.engine.connect() as conn:
            queued = (await conn.execute(sa.select(event_queue.c.event_id))).scalars().all()
    finally:
        await db.dispose()

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [202] * 140 + [401]
    accepted = [a.json() for a in answers if a.status_code == 202]
    assert sum(a["duplicate"] for a in accepted) == 20
    assert sorted(queued) == sorted(f"burst-{i}" for i in range(120))  # none lost, none twice
