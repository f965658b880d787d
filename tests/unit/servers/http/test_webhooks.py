"""Webhook ingress: signed deliveries are queued once; everything else gets a 4xx and
queues nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from orchestration.platforms.config_store import save_tool_config
from servers.http.app import build_app
from servers.http.webhooks import MAX_WEBHOOK_BYTES
from shared.config import Settings
from shared.crypto import cipher_from_settings, generate_key
from shared.db.database import Database
from shared.db.schema import event_queue
from shared.tenants import Tenant, create_tenant, get_or_create_tenant
from shared.webhooks.signing import sign_switchboard
from tests.fakes.server import serve_in_thread

SECRET = "whsec-generic-test"
CLICKUP_SECRET = "clickup-webhook-secret"
APIFY_SECRET = "apify-header-secret"


@dataclass
class Store:
    db: Database
    settings: Settings
    tenant: Tenant
    other: Tenant


@dataclass
class Ingress:
    http: httpx.AsyncClient
    db: Database
    tenant: Tenant
    other: Tenant


@pytest.fixture
async def store(sqlite_db: Database, sqlite_url: str) -> Store:
    settings = Settings(database_url=sqlite_url, secret_key=SecretStr(generate_key()))
    cipher = cipher_from_settings(settings.secret_key)
    tenant = await create_tenant(sqlite_db, "acme")
    async with sqlite_db.transaction() as conn:
        other = await get_or_create_tenant(conn, "globex")
    for tool, secret in (("generic", SECRET), ("clickup", CLICKUP_SECRET), ("apify", APIFY_SECRET)):
        await save_tool_config(
            sqlite_db,
            cipher,
            tenant_id=tenant.id,
            tool_name=tool,
            credentials={"webhook_secret": secret},
        )
    return Store(sqlite_db, settings, tenant, other)


@pytest.fixture
def base_url(store: Store) -> Iterator[str]:
    with serve_in_thread(build_app(store.settings), lifespan="on") as url:
        yield url


@pytest.fixture
async def ingress(store: Store, base_url: str) -> AsyncIterator[Ingress]:
    async with httpx.AsyncClient(base_url=base_url) as http:
        yield Ingress(http, store.db, store.tenant, store.other)


def lead_event(**overrides: object) -> bytes:
    body = {
        "eventId": "n8n-run-1",
        "eventType": "lead_qualified",
        "customerId": "acct-1",
        "eventData": {"qualification_score": 91},
        "priority": "critical",
    }
    body.update(overrides)
    return json.dumps(body).encode()


async def queued(db: Database) -> list[sa.RowMapping]:
    async with db.engine.connect() as conn:
        return list((await conn.execute(sa.select(event_queue))).mappings().all())


async def post(
    ingress: Ingress,
    body: bytes,
    headers: dict[str, str],
    source: str = "generic",
    tenant: str | None = None,
) -> httpx.Response:
    query = f"?tenant={tenant or ingress.tenant.id}"
    return await ingress.http.post(
        f"/webhooks/{source}{query}",
        content=body,
        headers={"content-type": "application/json", **headers},
    )


async def test_a_signed_delivery_is_queued_once_and_a_redelivery_is_a_duplicate(
    ingress: Ingress,
) -> None:
    body = lead_event()
    first = await post(ingress, body, sign_switchboard(SECRET, body))
    again = await post(ingress, body, sign_switchboard(SECRET, body))
    assert first.status_code == 202, first.text
    assert first.json()["duplicate"] is False
    assert again.status_code == 202
    assert again.json()["duplicate"] is True
    [row] = await queued(ingress.db)
    assert row["tenant_id"] == ingress.tenant.id
    assert row["event_type"] == "lead_qualified"
    assert row["event_id"] == "n8n-run-1"
    assert row["priority"] == 1  # critical


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing"),
        (sign_switchboard("wrong-secret", lead_event()), "does not match"),
        (
            sign_switchboard(SECRET, lead_event(), timestamp=int(time.time()) - 3600),
            "replay window",
        ),
        (sign_switchboard(SECRET, b"{}"), "does not match"),
    ],
)
async def test_unsigned_wrong_or_stale_deliveries_are_refused_and_queue_nothing(
    ingress: Ingress, headers: dict[str, str], reason: str
) -> None:
    response = await post(ingress, lead_event(), headers)
    assert response.status_code == 401
    assert reason in response.json()["detail"]
    assert await queued(ingress.db) == []


async def test_oversized_deliveries_are_refused_before_anything_else(ingress: Ingress) -> None:
    body = lead_event(eventData={"blob": "x" * MAX_WEBHOOK_BYTES})
    response = await post(ingress, body, sign_switchboard(SECRET, body))
    assert response.status_code == 413
    assert await queued(ingress.db) == []


async def test_unknown_source_missing_or_unknown_tenant(ingress: Ingress) -> None:
    body = lead_event()
    signed = sign_switchboard(SECRET, body)
    assert (await post(ingress, body, signed, source="zapier")).status_code == 404
    missing = await ingress.http.post("/webhooks/generic", content=body, headers=signed)
    assert missing.status_code == 400
    unknown = await post(ingress, body, signed, tenant="00000000-0000-0000-0000-000000000000")
    unconfigured = await post(ingress, body, signed, tenant=str(ingress.other.id))
    assert unknown.status_code == unconfigured.status_code == 401
    assert unknown.json()["detail"] == unconfigured.json()["detail"]  # no tenant probing
    assert await queued(ingress.db) == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (lead_event(eventType="made_up_type"), "unknown event type"),
        (lead_event(priority="urgent"), "priority"),
        (lead_event(tenantId="00000000-0000-0000-0000-000000000001"), "not the tenant"),
    ],
)
async def test_malformed_events_get_422_with_the_reason(
    ingress: Ingress, body: bytes, reason: str
) -> None:
    response = await post(ingress, body, sign_switchboard(SECRET, body))
    assert response.status_code == 422
    assert reason in response.json()["detail"]
    assert await queued(ingress.db) == []


async def test_a_clickup_delivery_is_verified_with_its_own_signature(ingress: Ingress) -> None:
    body = json.dumps(
        {
            "webhook_id": "wh-1",
            "event": "taskStatusUpdated",
            "task_id": "task-9",
            "history_items": [
                {
                    "id": "h1",
                    "field": "status",
                    "before": {"status": "open"},
                    "after": {"status": "won"},
                    "date": "1764150000000",
                    "user": {"id": 7},
                }
            ],
        }
    ).encode()
    signature = hmac.new(CLICKUP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    bad = await post(ingress, body, {"X-Signature": "0" * 64}, source="clickup")
    good = await post(ingress, body, {"X-Signature": signature}, source="clickup")
    assert bad.status_code == 401
    assert good.status_code == 202, good.text
    [row] = await queued(ingress.db)
    assert row["event_source"] == "clickup"
    assert row["event_data"]["new_status"] == "won"


async def test_apify_uses_a_secret_header(ingress: Ingress) -> None:
    body = lead_event(eventId="apify-1", eventType="prospect_identified")
    wrong = await post(ingress, body, {"X-Switchboard-Token": "nope"}, source="apify")
    right = await post(ingress, body, {"X-Switchboard-Token": APIFY_SECRET}, source="apify")
    assert wrong.status_code == 401
    assert right.status_code == 202
    [row] = await queued(ingress.db)
    assert row["event_source"] == "apify"
