"""`switchboard serve`'s app over real sockets: bearer tokens, roles and tenants end to end."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import httpx2
import pytest
import sqlalchemy as sa
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from servers.http.app import HttpOptions, build_app
from shared.audit import AuditWriter, argument_digest
from shared.auth.api_keys import create_api_key
from shared.auth.principal import Role
from shared.config import Settings
from shared.db.database import Database
from shared.db.migrate import upgrade
from shared.db.schema import audit_log
from tests.fakes.server import serve_in_thread
from tests.unit.servers.mcp.crm_world import CrmWorld, build_world

WRITE_TOOLS = {"update_lifecycle_stage", "log_activity", "create_campaign"}


@dataclass
class Served:
    url: str
    world: CrmWorld
    keys: dict[str, str]
    audit: AuditWriter  # the app's buffered audit writer: flush() before reading the log


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[CrmWorld, dict[str, str], str]]:
    url = f"sqlite:///{tmp_path / 'serve.sqlite3'}"
    db = Database.from_url(url)
    await upgrade(db.engine)
    built = await build_world(db)
    keys = {
        "viewer_a": (await create_api_key(db, built.tenant_id, Role.VIEWER)).token,
        "operator_a": (await create_api_key(db, built.tenant_id, Role.OPERATOR)).token,
        "viewer_b": (await create_api_key(db, built.other_tenant_id, Role.VIEWER)).token,
    }
    yield built, keys, url
    await db.dispose()


@pytest.fixture
def served(world: tuple[CrmWorld, dict[str, str], str]) -> Iterator[Served]:
    built, keys, url = world
    app = build_app(Settings(database_url=url), HttpOptions())
    with serve_in_thread(app, lifespan="on") as base:
        yield Served(base, built, keys, app.state.audit)


@asynccontextmanager
async def client(served: Served, server: str, key: str) -> AsyncGenerator[Client]:
    """An MCP SDK client over streamable HTTP, authenticated with one of the test keys."""
    headers = {"Authorization": f"Bearer {served.keys[key]}"}
    async with httpx2.AsyncClient(headers=headers) as http:
        url = f"{served.url}/mcp/{server}/"
        async with Client(streamable_http_client(url, http_client=http)) as connected:
            yield connected


async def test_health_endpoints_answer(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"]["ok"] is True


@pytest.mark.parametrize("token", [None, "sbk_deadbeef0000_wrong", "not-a-token"])
async def test_mcp_refuses_requests_without_a_valid_token(
    served: Served, token: str | None
) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=served.url) as http:
        response = await http.post("/mcp/crm/", headers=headers, json={"jsonrpc": "2.0"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "switchboard keys create" in response.json()["detail"]


async def test_a_viewer_does_not_see_write_tools_and_an_operator_does(served: Served) -> None:
    async with client(served, "crm", "viewer_a") as viewer:
        viewer_tools = {t.name for t in (await viewer.list_tools()).tools}
    async with client(served, "crm", "operator_a") as operator:
        operator_tools = {t.name for t in (await operator.list_tools()).tools}
    assert "search_prospects" in viewer_tools
    assert not WRITE_TOOLS & viewer_tools
    assert operator_tools >= WRITE_TOOLS


async def test_a_viewer_calling_a_write_tool_is_refused(served: Served) -> None:
    async with client(served, "crm", "viewer_a") as viewer:
        result = await viewer.call_tool(
            "update_lifecycle_stage",
            {"account_id": str(served.world.smile_id), "stage": "qualified"},
        )
    assert result.is_error


async def test_each_token_sees_only_its_own_tenant(served: Served) -> None:
    world = served.world
    async with client(served, "crm", "viewer_a") as tenant_a:
        mine = await tenant_a.call_tool("get_account", {"account_id": str(world.smile_id)})
        foreign = await tenant_a.call_tool("get_account", {"account_id": str(world.foreign_id)})
        found = await tenant_a.call_tool("search_prospects", {"limit": 100})
    assert not mine.is_error
    assert foreign.is_error
    assert "not in this workspace" in str(foreign.content)
    assert mine.structured_content is not None and found.structured_content is not None
    ids = {item["id"] for item in found.structured_content["items"]}
    assert str(world.smile_id) in ids
    assert str(world.foreign_id) not in ids
    async with client(served, "crm", "viewer_b") as tenant_b:
        theirs = await tenant_b.call_tool("get_account", {"account_id": str(world.smile_id)})
    assert theirs.is_error


async def test_the_analysis_server_is_served_beside_the_crm_server(served: Served) -> None:
    async with client(served, "analysis", "viewer_a") as analysis:
        names = {t.name for t in (await analysis.list_tools()).tools}
    assert "analyze_sentiment" in names


async def test_unknown_hosts_are_refused_against_dns_rebinding(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.url) as http:
        response = await http.post(
            "/mcp/crm/",
            headers={
                "Authorization": f"Bearer {served.keys['viewer_a']}",
                "Host": "evil.example",
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
            },
            json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
        )
    assert response.status_code == 421


def test_tenant_ids_are_random_per_world(world: tuple[CrmWorld, dict[str, str], str]) -> None:
    built, _keys, _url = world
    assert isinstance(built.tenant_id, uuid.UUID) and built.tenant_id != built.other_tenant_id


async def test_every_tool_call_leaves_one_audit_row_with_who_and_outcome(
    served: Served, world: tuple[CrmWorld, dict[str, str], str]
) -> None:
    built, keys, _url = world
    arguments = {"account_id": str(built.smile_id)}
    async with client(served, "crm", "viewer_a") as viewer:
        await viewer.call_tool("get_account", arguments)
        await viewer.call_tool(
            "update_lifecycle_stage", {"account_id": str(built.smile_id), "stage": "qualified"}
        )
    await served.audit.flush()  # read calls are audited by a buffered writer
    async with built.database.engine.connect() as conn:
        rows = (
            (await conn.execute(sa.select(audit_log).order_by(audit_log.c.occurred_at)))
            .mappings()
            .all()
        )
    key_id = keys["viewer_a"].split("_", 2)[1]
    assert [(r["action"], r["outcome"]) for r in rows] == [
        ("tool:get_account", "ok"),
        ("tool:update_lifecycle_stage", "denied"),
    ]
    assert {r["actor"] for r in rows} == {f"key:{key_id}"}
    assert rows[0]["tenant_id"] == built.tenant_id
    assert rows[0]["argument_digest"] == argument_digest(arguments)
