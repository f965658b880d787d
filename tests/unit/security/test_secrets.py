"""Secrets never leave: after a run that configures and calls every platform (n8n, Make,
ClickUp and Apify fakes, one platform that echoes the credential back in its error), issues
API keys and receives signed webhooks, no credential, API key, webhook secret or
encryption key appears in tool results or errors, in any log record, in /metrics, the
dashboard's JSON and page, or in what the CLI prints (`config`, `tools ...`, `keys ...`)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from orchestration.platforms.apify import GMB_ACTOR
from orchestration.platforms.resilience import ResilienceRegistry
from servers.http.app import HttpOptions, build_app
from servers.mcp.orchestration import PlatformAccess
from shared.auth.api_keys import create_api_key
from shared.auth.principal import Role
from shared.config import Settings
from shared.crypto import generate_key
from shared.webhooks.signing import sign_switchboard
from tests.fakes.apify import ApifyFake
from tests.fakes.clickup import ClickUpFake
from tests.fakes.make import MakeFake
from tests.fakes.n8n import N8nFake
from tests.unit.security.conftest import SECRET_KEY
from tests.unit.security.platform_fakes import LISTS
from tests.unit.security.sweep import admin_state, in_memory_clients, result_text, sql_repositories
from tests.unit.security.two_tenants import B_SECRET, TwoTenants
from tests.unit.servers.test_cli_foundation import switchboard

SECRETS = {
    "n8n": "n8n-api-key-zz81-SECRET",
    "make": "make-token-zz81-SECRET",
    "clickup": "pk_clickup_zz81_SECRET",
    "apify": "apify-token-zz81-SECRET",
    "echo": "echoed-key-zz81-SECRET",
    "webhook": "webhook-secret-zz81-SECRET",
}


def _echo_app() -> Starlette:
    """A platform that puts the request's credential in its error body, as some do."""

    async def refuse(request: Request) -> JSONResponse:
        seen = dict(request.headers)
        return JSONResponse({"message": f"invalid credentials {seen}"}, status_code=401)

    return Starlette(routes=[Route("/{path:path}", refuse, methods=["GET", "POST"])])


def _platforms() -> PlatformAccess:
    apify = ApifyFake(token=SECRETS["apify"])
    apify.add_actor(GMB_ACTOR, [{"title": "Collected", "placeId": "p1", "city": "Austin"}])
    clickup = ClickUpFake(token=SECRETS["clickup"])
    for list_id in LISTS.values():
        clickup.add_list(list_id, list_id)
    routes = {
        "n8n.test": httpx.ASGITransport(app=N8nFake(api_key=SECRETS["n8n"]).app()),
        "make.test": httpx.ASGITransport(app=MakeFake(token=SECRETS["make"]).app()),
        "clickup.test": httpx.ASGITransport(app=clickup.app()),
        "apify.test": httpx.ASGITransport(app=apify.app()),
        "echo.test": httpx.ASGITransport(app=_echo_app()),
    }

    class Router(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return await routes[request.url.host].handle_async_request(request)

    return PlatformAccess(
        client_factory=lambda: httpx.AsyncClient(transport=Router()),
        registry=ResilienceRegistry(),
        collection_deadline_s=30,
    )


CONFIGURE: list[dict[str, Any]] = [
    {"tool": "n8n", "endpoint": "http://n8n.test", "credentials": {"api_key": SECRETS["n8n"]}},
    {
        "tool": "make",
        "endpoint": "http://make.test/api/v2",
        "credentials": {"api_token": SECRETS["make"]},
    },
    {
        "tool": "clickup",
        "endpoint": "http://clickup.test/api/v2",
        "credentials": {"api_token": SECRETS["clickup"]},
        "settings": {"lists": LISTS, "reminder_days": None},
    },
    {
        "tool": "apify",
        "endpoint": "http://apify.test/v2",
        "credentials": {"api_token": SECRETS["apify"]},
    },
    {"tool": "generic", "credentials": {"webhook_secret": SECRETS["webhook"]}},
]


def _found(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text]


async def test_no_secret_reaches_results_errors_logs_metrics_or_dashboard(
    two: TwoTenants, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    db = two.database
    keys = [(await create_api_key(db, two.a.tenant_id, role)).token for role in Role]
    secrets = [*SECRETS.values(), *keys, SECRET_KEY, B_SECRET]
    state = admin_state(db, sql_repositories(db), two.a.tenant_id, SECRET_KEY)
    seen: list[str] = []
    async with in_memory_clients(state, _platforms())["orchestration"]() as client:
        calls: list[tuple[str, dict[str, Any]]] = [("configure_tool", c) for c in CONFIGURE]
        calls += [("check_connection", {"tool": t}) for t in ("n8n", "make", "clickup", "apify")]
        calls += [
            ("collect_prospects", {"industry": "dentists", "location": "Austin", "confirm": True}),
            ("sync_account_to_clickup", {"account_id": str(two.a.account_id)}),
            ("platform_status", {}),
            # a bad credential value, then a platform that echoes the credential it got
            ("configure_tool", {"tool": "apify", "credentials": {"api_token": 12345}}),
            (
                "configure_tool",
                {
                    "tool": "n8n",
                    "endpoint": "http://echo.test",
                    "credentials": {"api_key": SECRETS["echo"]},
                },
            ),
            ("check_connection", {"tool": "n8n"}),
            ("platform_status", {}),
        ]
        for name, args in calls:
            seen.append(f"{name}: {result_text(await client.call_tool(name, args))}")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'store.sqlite3'}", secret_key=SecretStr(SECRET_KEY)
    )
    app = build_app(settings, HttpOptions(embedded_worker=False))
    auth = {"Authorization": f"Bearer {keys[-1]}"}
    body = json.dumps({"eventType": "deal_closed", "eventData": {"amount": 1}}).encode()
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1"
        ) as http,
    ):
        url = f"/webhooks/generic?tenant={two.a.tenant_id}"
        for headers in (sign_switchboard(SECRETS["webhook"], body), {}):
            seen.append((await http.post(url, content=body, headers=headers)).text)
        for path in ("/metrics", "/dashboard", "/api/dashboard", "/readyz"):
            seen.append((await http.get(path, headers=auth)).text)
    logged = [f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records]
    leaks = [
        f"{where[:80]}...: {found}"
        for where in [*seen, *logged]
        if (found := _found(where, secrets))
    ]
    assert leaks == [], "\n".join(leaks)
    # the run did reach every platform and the echoing one refused us
    assert "unauthorized" in seen[-2] or "401" in seen[-2], seen[-2]
    assert all('"valid": true' in s for s in seen[5:9]), seen[5:9]


def test_cli_output_never_shows_secrets(tmp_path: Path) -> None:
    secret_key = generate_key()
    env = {
        "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "SWITCHBOARD_SECRET_KEY": secret_key,
        "SWITCHBOARD_SUPABASE_KEY": "supabase-service-key-zz81-SECRET",
        "SWITCHBOARD_SUPABASE_JWT_SECRET": "supabase-jwt-secret-zz81-SECRET",
    }
    secrets = [secret_key, env["SWITCHBOARD_SUPABASE_KEY"], env["SWITCHBOARD_SUPABASE_JWT_SECRET"]]
    secrets += [SECRETS["clickup"], SECRETS["webhook"]]
    runs = [
        ("db", "upgrade"),
        ("tenants", "create", "demo"),
        ("config",),
        ("config", "--json"),
        ("tools", "configure", "clickup", "--endpoint", "http://127.0.0.1:9/api/v2",
         "--credential", f"api_token={SECRETS['clickup']}"),
        ("tools", "configure", "generic", "--credential", f"webhook_secret={SECRETS['webhook']}"),
        ("tools", "configure", "apify", "--credential", SECRETS["clickup"]),  # no KEY=: refused
        ("tools", "list"),
        ("tools", "list", "--json"),
        ("tools", "check", "clickup"),  # nothing listens on port 9: a connection error
        ("tools", "rotate-keys"),
        ("keys", "list"),
    ]  # fmt: skip
    printed: list[str] = []
    for args in runs:
        result = switchboard(*args, env=env)
        printed.append(f"{' '.join(args[:2])}: {result.stdout} {result.stderr}")
    issued = switchboard("keys", "create", "--tenant", "demo", env=env).stdout.strip()
    again = switchboard("keys", "list", "--json", env=env)
    printed.append(again.stdout + again.stderr)
    leaks = [f"{p[:60]}: {found}" for p in printed if (found := _found(p, [*secrets, issued]))]
    assert leaks == [], "\n".join(leaks)
    assert "***" in printed[2]  # config shows the secrets exist, masked
    assert "no key" in printed[6] and "could not be reached" in printed[9], printed[9]
