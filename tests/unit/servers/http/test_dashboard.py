"""The dashboard's routes: the page is open, the data and actions need a token and a role."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

from servers.http.dashboard import dashboard_routes
from shared.auth.api_keys import create_api_key
from shared.auth.principal import Role
from shared.auth.tokens import BearerTokenVerifier
from shared.db.database import Database
from shared.db.orchestration_tables import audit_log, event_queue, workflow_executions
from shared.tenants import create_tenant


@dataclass
class Dashboard:
    http: httpx.AsyncClient
    db: Database
    tenant_id: uuid.UUID
    operator: dict[str, str]
    viewer: dict[str, str]


@pytest.fixture
async def dashboard(sqlite_db: Database) -> AsyncIterator[Dashboard]:
    tenant = await create_tenant(sqlite_db, "acme")
    keys = {
        role: {
            "Authorization": f"Bearer {(await create_api_key(sqlite_db, tenant.id, role)).token}"
        }
        for role in (Role.OPERATOR, Role.VIEWER)
    }
    app = Starlette(routes=dashboard_routes(sqlite_db, BearerTokenVerifier(sqlite_db, None)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        yield Dashboard(http, sqlite_db, tenant.id, keys[Role.OPERATOR], keys[Role.VIEWER])


async def _failed_execution(db: Database, tenant_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
    event_id, execution_id = uuid.uuid4(), uuid.uuid4()
    async with db.transaction() as conn:
        await conn.execute(
            sa.insert(event_queue).values(
                id=event_id,
                tenant_id=tenant_id,
                event_type="lead_qualified",
                event_data={},
                status="failed",
                attempts=3,
            )
        )
        await conn.execute(
            sa.insert(workflow_executions).values(
                id=execution_id, tenant_id=tenant_id, trigger_event_id=event_id, status="failed"
            )
        )
    return event_id, execution_id


async def _event_status(db: Database, event_id: uuid.UUID) -> str:
    async with db.engine.connect() as conn:
        found = await conn.execute(
            sa.select(event_queue.c.status).where(event_queue.c.id == event_id)
        )
        return str(found.scalar())


async def test_the_page_is_a_login_form_served_without_a_token(dashboard: Dashboard) -> None:
    answer = await dashboard.http.get("/dashboard")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert 'id="login"' in answer.text
    assert "sessionStorage" in answer.text


async def test_the_data_needs_a_valid_token(dashboard: Dashboard) -> None:
    assert (await dashboard.http.get("/api/dashboard")).status_code == 401
    refused = await dashboard.http.get(
        "/api/dashboard", headers={"Authorization": "Bearer sk_nope_nope"}
    )
    assert refused.status_code == 401
    answer = await dashboard.http.get("/api/dashboard", headers=dashboard.viewer)
    assert answer.status_code == 200
    assert answer.json()["caller"] == {"role": "viewer", "tenant_id": str(dashboard.tenant_id)}


async def test_a_viewer_cannot_retry_and_the_refusal_is_audited(dashboard: Dashboard) -> None:
    event_id, execution_id = await _failed_execution(dashboard.db, dashboard.tenant_id)
    answer = await dashboard.http.post(
        f"/api/dashboard/retry/{execution_id}", headers=dashboard.viewer
    )
    assert answer.status_code == 403
    assert "operator" in answer.json()["detail"]
    assert await _event_status(dashboard.db, event_id) == "failed"
    async with dashboard.db.engine.connect() as conn:
        outcomes = (await conn.execute(sa.select(audit_log.c.outcome))).scalars().all()
    assert outcomes == ["denied"]


async def test_an_operator_retry_requeues_the_triggering_event(dashboard: Dashboard) -> None:
    event_id, execution_id = await _failed_execution(dashboard.db, dashboard.tenant_id)
    answer = await dashboard.http.post(
        f"/api/dashboard/retry/{execution_id}", headers=dashboard.operator
    )
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"status": "queued", "event_id": str(event_id)}
    assert await _event_status(dashboard.db, event_id) == "pending"
    again = await dashboard.http.post(
        f"/api/dashboard/retry/{execution_id}", headers=dashboard.operator
    )
    assert again.status_code == 409
    assert "still queued" in again.json()["detail"]


async def test_an_operator_replays_a_dead_letter(dashboard: Dashboard) -> None:
    event_id, _ = await _failed_execution(dashboard.db, dashboard.tenant_id)
    answer = await dashboard.http.post(
        f"/api/dashboard/replay/{event_id}", headers=dashboard.operator
    )
    assert answer.status_code == 202
    assert await _event_status(dashboard.db, event_id) == "pending"


async def test_another_tenants_execution_is_not_found(dashboard: Dashboard) -> None:
    other = await create_tenant(dashboard.db, "globex")
    event_id, execution_id = await _failed_execution(dashboard.db, other.id)
    for path in (f"/api/dashboard/retry/{execution_id}", f"/api/dashboard/replay/{event_id}"):
        answer = await dashboard.http.post(path, headers=dashboard.operator)
        assert answer.status_code == 404
    assert await _event_status(dashboard.db, event_id) == "failed"
    bad = await dashboard.http.post("/api/dashboard/retry/not-an-id", headers=dashboard.operator)
    assert bad.status_code == 404
    assert "not an execution id" in bad.json()["detail"]
