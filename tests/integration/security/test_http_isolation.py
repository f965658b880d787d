"""Tenant isolation over `switchboard serve`'s real HTTP surface, with tenant A's admin API
key: every MCP tool through /mcp/* (tenant from the token), the dashboard API, the
webhook ingress, health and metrics. The endpoint list is read from the app's routes, so a
new endpoint without a case here fails `test_every_http_endpoint_has_an_isolation_case`."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import sqlalchemy as sa
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from orchestration.platforms.config_store import save_tool_config
from servers.http.app import HttpOptions, build_app
from shared.auth.api_keys import create_api_key
from shared.auth.principal import Role
from shared.config import Settings
from shared.crypto import CredentialCipher, generate_key
from shared.db.database import Database
from shared.db.migrate import upgrade
from shared.db.schema import event_queue
from shared.webhooks.signing import sign_switchboard
from tests.fakes.server import serve_in_thread
from tests.unit.security.sweep import FOREIGN_MARKERS, isolation_failures
from tests.unit.security.test_audit_trail import audit_rows
from tests.unit.security.tool_cases import CASES
from tests.unit.security.two_tenants import (
    B_MARK,
    B_SECRET,
    TwoTenants,
    build_two_tenants,
    tenant_rows,
)

A_WEBHOOK_SECRET = "alpha-webhook-secret-for-http"


@dataclass
class Served:
    url: str
    world: TwoTenants
    a_key: str


@pytest.fixture
async def prepared(tmp_path: Path) -> AsyncIterator[tuple[TwoTenants, str, str, str]]:
    url = f"sqlite:///{tmp_path / 'serve.sqlite3'}"
    key = generate_key()
    db = Database.from_url(url)
    await upgrade(db.engine)
    world = await build_two_tenants(db, CredentialCipher(key))
    await save_tool_config(
        db,
        CredentialCipher(key),
        tenant_id=world.a.tenant_id,
        tool_name="generic",
        credentials={"webhook_secret": A_WEBHOOK_SECRET},
    )
    a_key = (await create_api_key(db, world.a.tenant_id, Role.ADMIN)).token
    yield world, a_key, url, key
    await db.dispose()


@pytest.fixture
def app_and_served(
    prepared: tuple[TwoTenants, str, str, str],
) -> Iterator[tuple[Starlette, Served]]:
    world, a_key, url, key = prepared
    settings = Settings(database_url=url, secret_key=SecretStr(key))
    app = build_app(settings, HttpOptions(embedded_worker=False))
    with serve_in_thread(app, lifespan="on") as base:
        yield app, Served(base, world, a_key)


def _paths(routes: list[BaseRoute], prefix: str = "") -> set[str]:
    """Every endpoint path, descending into mounted routers (behind their auth middleware)."""
    found: set[str] = set()
    for route in routes:
        if isinstance(route, Route):
            found.add(prefix + route.path)
        elif isinstance(route, Mount):
            inner: Any = route.app
            while not hasattr(inner, "routes") and hasattr(inner, "app"):
                inner = inner.app  # middleware around a router
            sub = getattr(inner, "routes", None)
            if sub and not route.path.startswith("/mcp"):
                found |= _paths(list(sub), prefix + route.path)
            else:
                found.add(prefix + route.path)
    return found


def _leaks(text: str) -> list[str]:
    return [m for m in FOREIGN_MARKERS if m in text]


async def _queued_for(db: Database, tenant_id: uuid.UUID) -> int:
    async with db.engine.connect() as conn:
        return int(
            await conn.scalar(
                sa.select(sa.func.count()).where(event_queue.c.tenant_id == tenant_id)
            )
            or 0
        )


Check = Callable[[Served, httpx.AsyncClient], Awaitable[list[str]]]


async def _health(served: Served, http: httpx.AsyncClient) -> list[str]:
    texts = [(await http.get(p)).text for p in ("/healthz", "/readyz")]
    return [f"health leaks {m}" for t in texts for m in _leaks(t)]


async def _metrics(served: Served, http: httpx.AsyncClient) -> list[str]:
    # /metrics is deployment-wide and tokenless (see servers/http/metrics.py): it may name
    # workflow definitions, but never credentials, CRM data or amounts.
    text = (await http.get("/metrics")).text
    return [f"/metrics leaks {m}" for m in (B_SECRET, "987654") if m in text]


async def _dashboard_page(served: Served, http: httpx.AsyncClient) -> list[str]:
    text = (await http.get("/dashboard")).text
    return [f"/dashboard page leaks {m}" for m in _leaks(text)]


def _auth(served: Served) -> dict[str, str]:
    return {"Authorization": f"Bearer {served.a_key}"}


async def _dashboard_json(served: Served, http: httpx.AsyncClient) -> list[str]:
    response = await http.get("/api/dashboard", headers=_auth(served))
    failures = [] if response.status_code == 200 else [f"/api/dashboard {response.status_code}"]
    text = response.text
    failures += [f"/api/dashboard leaks {m}" for m in _leaks(text)]
    failures += [f"/api/dashboard leaks id {i}" for i in served.world.b.ids if str(i) in text]
    return failures


async def _dashboard_action(
    path: str, target: uuid.UUID, served: Served, http: httpx.AsyncClient
) -> list[str]:
    response = await http.post(f"/api/dashboard/{path}/{target}", headers=_auth(served))
    if response.status_code != 404:
        return [f"{path} of B's {target}: {response.status_code} {response.text[:200]}"]
    return [f"{path} leaks {m}" for m in _leaks(response.text)]


async def _retry(served: Served, http: httpx.AsyncClient) -> list[str]:
    return await _dashboard_action("retry", served.world.b.execution_id, served, http)


async def _replay(served: Served, http: httpx.AsyncClient) -> list[str]:
    return await _dashboard_action("replay", served.world.b.dead_letter_id, served, http)


async def _webhooks(served: Served, http: httpx.AsyncClient) -> list[str]:
    world = served.world
    failures: list[str] = []
    body = json.dumps({"eventType": "deal_closed", "eventData": {"amount": 1}}).encode()
    signed = {**sign_switchboard(A_WEBHOOK_SECRET, body), "Content-Type": "application/json"}
    # A's correctly signed delivery aimed at B's webhook URL: B's secret differs.
    to_b = await http.post(
        f"/webhooks/generic?tenant={world.b.tenant_id}", content=body, headers=signed
    )
    if to_b.status_code != 401:
        failures.append(f"A-signed delivery to B's URL: {to_b.status_code}")
    # A's own URL, a body that claims B's tenant.
    claim = json.dumps({"eventType": "deal_closed", "tenantId": str(world.b.tenant_id)}).encode()
    claimed = await http.post(
        f"/webhooks/generic?tenant={world.a.tenant_id}",
        content=claim,
        headers={**sign_switchboard(A_WEBHOOK_SECRET, claim), "Content-Type": "application/json"},
    )
    if claimed.status_code != 422:
        failures.append(f"a body claiming B's tenant: {claimed.status_code}")
    failures += [f"webhook answer leaks {m}" for r in (to_b, claimed) for m in _leaks(r.text)]
    return failures


HTTP_CASES: dict[str, Check] = {
    "/healthz": _health,
    "/readyz": _health,
    "/metrics": _metrics,
    "/webhooks/{source}": _webhooks,
    "/dashboard": _dashboard_page,
    "/api/dashboard": _dashboard_json,
    "/api/dashboard/retry/{execution_id}": _retry,
    "/api/dashboard/replay/{queue_id}": _replay,
    # The MCP endpoints: the whole tool sweep, in test_mcp_over_http_keeps_tenants_apart.
    "/mcp/crm": _health,
    "/mcp/analysis": _health,
    "/mcp/orchestration": _health,
}


def test_every_http_endpoint_has_an_isolation_case(
    app_and_served: tuple[Starlette, Served],
) -> None:
    app, _served = app_and_served
    assert _paths(list(app.routes)) == set(HTTP_CASES)


async def test_http_endpoints_keep_tenants_apart(app_and_served: tuple[Starlette, Served]) -> None:
    _app, served = app_and_served
    db = served.world.database
    before = await tenant_rows(db, served.world.b.tenant_id)
    queued_before = await _queued_for(db, served.world.b.tenant_id)
    audit_before = await audit_rows(db)
    failures: list[str] = []
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
        for path, check in HTTP_CASES.items():
            failures += [f"{path}: {f}" for f in await check(served, http)]
    assert failures == [], "\n".join(failures)
    assert await tenant_rows(db, served.world.b.tenant_id) == before
    assert await _queued_for(db, served.world.b.tenant_id) == queued_before
    audit_after = await audit_rows(db)
    assert all(row in audit_after for row in audit_before), "an endpoint changed an audit row"


def _http_clients(served: Served) -> dict[str, Callable[[], Any]]:
    def connect(server: str) -> Callable[[], Any]:
        @asynccontextmanager
        async def client() -> AsyncGenerator[Client]:
            async with httpx2.AsyncClient(headers=_auth(served), timeout=60) as http:
                url = f"{served.url}/mcp/{server}/"
                async with Client(streamable_http_client(url, http_client=http)) as connected:
                    yield connected

        return client

    return {name: connect(name) for name in ("crm", "analysis", "orchestration")}


async def test_mcp_over_http_keeps_tenants_apart(app_and_served: tuple[Starlette, Served]) -> None:
    """The tenant comes from A's API key; every probe of every tool, over streamable HTTP."""
    _app, served = app_and_served
    failures, swept = await isolation_failures(_http_clients(served), served.world)
    assert failures == [], "\n".join(failures)
    assert swept == set(CASES)
    assert B_MARK  # the markers the sweep looks for are set
