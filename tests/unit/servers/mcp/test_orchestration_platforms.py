"""The orchestration server's platform tools against the in-process Apify and ClickUp fakes:
configuring a tool never returns its secret, health and usage, connection checks, the MCP
server registry, a paid collection that needs confirm and reports progress, a ClickUp sync.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from mcp import Client
from mcp.types import ElicitRequestParams, ElicitResult
from starlette.applications import Starlette

from orchestration.platforms.apify import GMB_ACTOR
from orchestration.platforms.resilience import ResilienceRegistry
from servers.mcp.common.caller import Role
from servers.mcp.orchestration import PlatformAccess
from shared.db.crm_tables import accounts
from shared.db.schema import event_queue
from tests.fakes.apify import ApifyFake
from tests.fakes.clickup import ClickUpFake
from tests.fakes.make import MakeFake
from tests.unit.servers.mcp.crm_world import CrmWorld
from tests.unit.servers.mcp.test_orchestration_server import (
    call,
    orchestration_state,
    server,
    text_of,
)

APIFY = "http://apify.test/v2"
CLICKUP = "http://clickup.test/api/v2"
SECRET = "apify_api_SECRETtoken123"
CLICKUP_SETTINGS: dict[str, Any] = {
    "lists": {
        "qualified_prospects": "L1",
        "active_customers": "L2",
        "at_risk_customers": "L3",
        "completed_deals": "L4",
    },
    "reminder_days": None,
}


def access(*apps: tuple[str, Starlette]) -> PlatformAccess:
    """Each host routed to its fake app, in memory."""
    routes = {host: httpx.ASGITransport(app=app) for host, app in apps}

    class Router(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return await routes[request.url.host].handle_async_request(request)

    return PlatformAccess(
        client_factory=lambda: httpx.AsyncClient(transport=Router()),
        registry=ResilienceRegistry(),
        collection_deadline_s=30,
    )


def place(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "title": f"Dentist {n}",
        "placeId": f"place-{n}",
        "categoryName": "Dentist",
        "city": "Austin",
        "phone": f"+1 512 555 01{n:02d}",
        "totalScore": 4.5,
        "reviewsCount": 10 + n,
        "reviews": [{"stars": 5, "text": "Great", "name": "A", "publishedAtDate": "2026-01-02"}],
        **extra,
    }


@pytest.fixture
def apify() -> ApifyFake:
    fake = ApifyFake(token=SECRET)
    fake.add_actor(GMB_ACTOR, [place(1), place(2), place(2), {"title": None}])
    return fake


async def test_configure_tool_never_returns_the_credential(world: CrmWorld) -> None:
    state = orchestration_state(world)
    async with Client(server(state)) as client:
        first = await client.call_tool(
            "configure_tool",
            {"tool": "apify", "endpoint": APIFY, "credentials": {"api_token": SECRET}},
        )
        second = await client.call_tool(
            "configure_tool", {"tool": "apify", "settings": {"max": 3}, "rate_limit_per_minute": 5}
        )
        bad = await client.call_tool(
            "configure_tool", {"tool": "apify", "credentials": {"api_token": 12345}}
        )
        status = await client.call_tool("platform_status", {})
    for result in (first, second, bad, status):
        assert SECRET not in text_of(result) and SECRET not in str(result.structured_content)
    assert not first.is_error and first.structured_content is not None
    assert first.structured_content["credential_names"] == ["api_token"]
    assert second.structured_content is not None and not second.structured_content["created"]
    assert bad.is_error and "'api_token' must be a non-empty string" in text_of(bad)
    assert "12345" not in text_of(bad)
    async with world.database.engine.connect() as conn:
        stored = str(
            (await conn.execute(sa.text("SELECT credentials FROM external_tool_configs"))).all()
        )
    assert SECRET not in stored  # encrypted at rest


async def test_configure_tool_without_a_key_says_how_to_set_it(world: CrmWorld) -> None:
    async with Client(server(world.state())) as client:
        result = await client.call_tool(
            "configure_tool",
            {"tool": "apify", "endpoint": APIFY, "credentials": {"api_token": SECRET}},
        )
    assert result.is_error and "SWITCHBOARD_SECRET_KEY" in text_of(result)
    assert SECRET not in text_of(result)


async def test_platform_status_and_check_connection(world: CrmWorld, apify: ApifyFake) -> None:
    platforms = access(("apify.test", apify.app()))
    async with Client(server(orchestration_state(world), platforms)) as client:
        await call(
            client,
            "configure_tool",
            {"tool": "apify", "endpoint": APIFY, "credentials": {"api_token": SECRET}},
        )
        checked = await call(client, "check_connection", {"tool": "apify"})
        status = await call(client, "platform_status")
        missing = await client.call_tool("check_connection", {"tool": "n8n"})
        await call(
            client, "configure_tool", {"tool": "apify", "credentials": {"api_token": "wrong"}}
        )
        refused = await call(client, "check_connection", {"tool": "apify"})
    assert checked["valid"] and checked["connection_status"] == "active"
    (apify_status,) = status["platforms"]
    assert apify_status["tool"] == "apify" and apify_status["connection_status"] == "active"
    assert apify_status["circuit_state"] == "closed" and apify_status["rate_limit_headroom"] > 0
    assert apify_status["monthly_api_calls"] == 1
    assert apify_status["credential_names"] == ["api_token"]
    assert "n8n" in status["not_configured"]
    assert missing.is_error and "configure_tool" in text_of(missing)
    assert not refused["valid"] and refused["connection_status"] == "unauthorized"


async def test_mcp_server_registry(world: CrmWorld) -> None:
    async with Client(server(orchestration_state(world))) as client:
        await call(client, "register_mcp_server", {"server_name": "switchboard-crm"})
        await call(
            client,
            "register_mcp_server",
            {"server_name": "partner", "endpoint_url": "https://mcp.example.com/mcp"},
        )
        replaced = await call(
            client,
            "register_mcp_server",
            {
                "server_name": "partner",
                "endpoint_url": "https://x.example.com/mcp",
                "is_active": False,
            },
        )
        bad = await client.call_tool(
            "register_mcp_server", {"server_name": "evil", "endpoint_url": "file:///etc/passwd"}
        )
    async with Client(server(orchestration_state(world, Role.VIEWER))) as client:
        listed = await call(client, "list_mcp_servers")
    assert [s["server_name"] for s in listed["servers"]] == ["partner", "switchboard-crm"]
    assert replaced["endpoint_url"] == "https://x.example.com/mcp" and not replaced["is_active"]
    assert bad.is_error and "http(s)" in text_of(bad)


async def test_collect_prospects_needs_confirm_then_adds_new_prospects(
    world: CrmWorld, apify: ApifyFake
) -> None:
    platforms = access(("apify.test", apify.app()))
    reported: list[tuple[float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reported.append((progress, message))

    args = {"industry": "dentists", "location": "Austin, TX", "max_places": 10}
    async with Client(server(orchestration_state(world, Role.OPERATOR), platforms)) as client:
        refused = await client.call_tool("collect_prospects", args)
        started_before = len(apify.runs)
        async with Client(server(orchestration_state(world), platforms)) as admin:
            await call(
                admin,
                "configure_tool",
                {"tool": "apify", "endpoint": APIFY, "credentials": {"api_token": SECRET}},
            )
        result = await client.call_tool(
            "collect_prospects", {**args, "confirm": True}, progress_callback=on_progress
        )
        again = await call(client, "collect_prospects", {**args, "confirm": True})
    assert refused.is_error and "confirm: true" in text_of(refused) and started_before == 0
    assert not result.is_error, text_of(result)
    out = result.structured_content
    assert out is not None
    assert (out["items"], out["new"], out["duplicates"], out["skipped"]) == (4, 2, 1, 1)
    assert again["new"] == 0 and again["existing"] == 2
    assert reported and reported[-1][0] == 4 and any("2 new" in (m or "") for _, m in reported)
    run = next(iter(apify.runs.values()))
    assert "dentists Austin, TX" in run["input"]["searchStringsArray"]
    async with world.database.engine.connect() as conn:
        names = (
            (
                await conn.execute(
                    sa.select(accounts.c.name).where(
                        accounts.c.tenant_id == world.tenant_id, accounts.c.source == "apify"
                    )
                )
            )
            .scalars()
            .all()
        )
        events = await conn.scalar(
            sa.select(sa.func.count())
            .select_from(event_queue)
            .where(event_queue.c.event_type == "prospect_identified")
        )
    assert sorted(names) == ["Dentist 1", "Dentist 2"] and events == 2


async def test_sync_account_to_clickup_creates_then_leaves_unchanged(world: CrmWorld) -> None:
    fake = ClickUpFake(token="pk_test_token_123456")
    for list_id in ("L1", "L2", "L3", "L4"):
        fake.add_list(list_id, list_id)
    platforms = access(("clickup.test", fake.app()))
    async with Client(server(orchestration_state(world), platforms)) as client:
        await call(
            client,
            "configure_tool",
            {
                "tool": "clickup",
                "endpoint": CLICKUP,
                "credentials": {"api_token": fake.token},
                "settings": CLICKUP_SETTINGS,
            },
        )
        first = await call(client, "sync_account_to_clickup", {"account_id": str(world.smile_id)})
        second = await call(client, "sync_account_to_clickup", {"account_id": str(world.smile_id)})
        foreign = await client.call_tool(
            "sync_account_to_clickup", {"account_id": str(world.foreign_id)}
        )
    assert first["action"] == "created" and first["list_id"] == "L1"
    assert second["action"] == "unchanged" and second["task_id"] == first["task_id"]
    assert len(fake.tasks) == 1
    assert foreign.is_error and "search_prospects" in text_of(foreign)


async def test_a_declined_collection_starts_no_paid_run(world: CrmWorld, apify: ApifyFake) -> None:
    async def decline(context: Any, params: ElicitRequestParams) -> ElicitResult:
        assert "paid Apify run" in params.message
        return ElicitResult(action="decline")

    platforms = access(("apify.test", apify.app()))
    target = server(orchestration_state(world), platforms)
    async with Client(target, elicitation_callback=decline) as client:
        await call(
            client,
            "configure_tool",
            {"tool": "apify", "endpoint": APIFY, "credentials": {"api_token": SECRET}},
        )
        result = await client.call_tool(
            "collect_prospects", {"industry": "dentists", "location": "Austin, TX"}
        )
    assert result.is_error and "did not approve" in text_of(result) and apify.runs == {}


MAKE = "http://eu1.make.test/api/v2"
MAKE_TOKEN = "make-SECRET-token-4242"


async def test_install_template_on_make_creates_the_scenario_once_and_routes_to_it(
    world: CrmWorld,
) -> None:
    make = MakeFake(token=MAKE_TOKEN)
    state = orchestration_state(world)
    async with Client(server(state, access(("eu1.make.test", make.app())))) as client:
        unconfigured = await client.call_tool(
            "install_template", {"template": "campaign-orchestration", "platform": "make"}
        )
        await call(
            client,
            "configure_tool",
            {"tool": "make", "endpoint": MAKE, "credentials": {"api_token": MAKE_TOKEN},
             "settings": {"team_id": 12}},
        )  # fmt: skip
        no_n8n_version = await client.call_tool(
            "install_template", {"template": "campaign-orchestration", "platform": "n8n"}
        )
        first = await call(
            client, "install_template", {"template": "campaign-orchestration", "platform": "make"}
        )
        again = await call(
            client, "install_template", {"template": "campaign-orchestration", "platform": "make"}
        )
        name = first["installed"]["workflow"]["name"]
        shown = await call(client, "get_workflow", {"workflow": name})

    assert unconfigured.is_error and "make is not configured" in text_of(unconfigured)
    assert no_n8n_version.is_error and "has no n8n version" in text_of(no_n8n_version)
    assert first["platform"] == "make" and again["platform"] == "make"
    refs = first["platform_refs"]
    assert refs["team_id"] == 12 and refs["scenario_id"] in make.scenarios
    assert again["platform_refs"]["scenario_id"] == refs["scenario_id"]
    assert len(make.scenarios) == 1 and len(make.hook_records) == 1  # nothing twice
    assert make.scenarios[refs["scenario_id"]]["isActive"] is True
    assert "primary_platform: make" in str(shown)
    assert MAKE_TOKEN not in str(first) + str(again)
