"""The isolation sweep: tenant A's admin calls every tool of the three MCP servers with
every probe in `tool_cases.CASES` aimed at tenant B, on whatever store `state` serves.

After each call: nothing of B is in the result (its marker, its secrets, its deal amount,
any of its ids A did not pass in), B's rows are exactly as before, and a probe naming a B
object by id was refused. Platform calls go to a recording transport; none may reach B's
endpoints or carry B's credentials. Returns every failure, so one run names all of them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import httpx
from mcp import Client
from mcp.server.mcpserver import MCPServer
from pydantic import SecretStr

from orchestration.events.crm_sink import CrmEventSink
from orchestration.platforms.resilience import ResilienceRegistry
from servers.mcp.analysis import build_analysis_server
from servers.mcp.common.caller import CallerContext, Role, StaticCallerResolver
from servers.mcp.common.state import AppState, RepositoryFactory
from servers.mcp.crm import build_crm_server
from servers.mcp.orchestration import PlatformAccess, build_orchestration_server
from shared.config import Settings
from shared.crm.repository import CrmRepository
from shared.crm.sql import SqlCrmRepository
from shared.db.database import Database
from tests.unit.security.tool_cases import CASES, Probe, missing_cases
from tests.unit.security.two_tenants import B_MARK, B_SECRET, TwoTenants, tenant_rows

__all__ = [
    "FOREIGN_MARKERS",
    "RecordingPlatforms",
    "admin_state",
    "in_memory_clients",
    "isolation_failures",
    "result_text",
    "sql_repositories",
]

FOREIGN_MARKERS = (B_MARK, B_SECRET, "987654")  # 987654: B's deal amount


@dataclass
class RecordingPlatforms:
    """Every outbound platform request, answered 503 (nothing of A is configured)."""

    requests: list[httpx.Request] = field(default_factory=list[httpx.Request])

    def access(self) -> PlatformAccess:
        def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            return httpx.Response(503, json={"error": "recording transport"})

        return PlatformAccess(
            client_factory=lambda: httpx.AsyncClient(transport=httpx.MockTransport(handle)),
            registry=ResilienceRegistry(),
            collection_deadline_s=5,
        )

    def reaching_b(self) -> list[str]:
        found: list[str] = []
        for request in self.requests:
            raw = f"{request.url} {dict(request.headers)} {request.content!r}"
            if B_MARK in raw or B_SECRET in raw:
                found.append(f"{request.method} {request.url}")
        return found


def sql_repositories(database: Database) -> RepositoryFactory:
    """The `sql` CRM source of each tenant, publishing lifecycle events as the servers do."""

    async def build(tenant_id: uuid.UUID) -> CrmRepository:
        return SqlCrmRepository(database, tenant_id, change_sink=CrmEventSink(database, tenant_id))

    return build


def admin_state(
    database: Database,
    repositories: RepositoryFactory,
    tenant_id: uuid.UUID,
    secret_key: str,
    role: Role = Role.ADMIN,
) -> AppState:
    caller = CallerContext(tenant_id=tenant_id, role=role, actor="sweep")
    return AppState(
        settings=Settings(secret_key=SecretStr(secret_key)),
        database=database,
        resolver=StaticCallerResolver(caller),
        repository_factory=repositories,
    )


ClientFactory = Callable[[], AbstractAsyncContextManager[Client]]


def in_memory_clients(state: AppState, platforms: PlatformAccess) -> dict[str, ClientFactory]:
    """An in-memory MCP client per server, each serving `state`."""
    builders: dict[str, Callable[[], MCPServer[Any]]] = {
        "crm": lambda: build_crm_server(state=state),
        "analysis": lambda: build_analysis_server(state=state),
        "orchestration": lambda: build_orchestration_server(state=state, platforms=platforms),
    }
    return {name: (lambda b=build: Client(b())) for name, build in builders.items()}


def result_text(result: Any) -> str:
    parts = [json.dumps(result.structured_content, default=str, ensure_ascii=False)]
    parts += [getattr(c, "text", "") for c in result.content]
    return "\n".join(parts)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]  # pyright: ignore[reportUnknownVariableType]
    return []


def leaks(text: str, args: dict[str, Any], world: TwoTenants) -> list[str]:
    """B's markers and ids found in a result, ignoring what the caller itself passed."""
    given = json.dumps(args)
    for passed in sorted(_strings(args), key=len, reverse=True):
        text = text.replace(passed, "")
    found = [m for m in FOREIGN_MARKERS if m in text and m not in given]
    found += [f"id {i}" for i in world.b.ids if str(i) in text]
    return found


async def _probe(
    client: Client,
    name: str,
    number: int,
    probe: Probe,
    world: TwoTenants,
    before: dict[str, list[str]],
) -> list[str]:
    """Failures of one probe; `before` is B's rows before it, updated to after it."""
    args = probe.args(world)
    result = await client.call_tool(name, args)
    label = f"{name} probe #{number} ({probe.how}) {args}"
    failures: list[str] = []
    if probe.how == "id" and not result.is_error:
        failures.append(f"{label}: not refused: {result_text(result)[:300]}")
    failures += [
        f"{label}: leaks {leak}: {result_text(result)[:300]}"
        for leak in leaks(result_text(result), args, world)
    ]
    after = await tenant_rows(world.database, world.b.tenant_id)
    changed = sorted(t for t in after if after[t] != before.get(t))
    if changed:
        failures.append(f"{label}: changed B's {', '.join(changed)}")
    before.update(after)
    return failures


def _in_order(names: set[str]) -> list[tuple[str, int, Probe]]:
    """Every probe of these tools, writes last: a write may create A's own object under a
    name B uses, which a later by-name probe would then (rightly) find."""
    probes = [
        (name, number, probe)
        for name in sorted(names)
        for number, probe in enumerate(CASES[name].foreign, start=1)
    ]
    return sorted(probes, key=lambda item: item[2].how == "write")


async def isolation_failures(
    clients: Mapping[str, ClientFactory],
    world: TwoTenants,
    platforms: RecordingPlatforms | None = None,
) -> tuple[list[str], set[str]]:
    """(failures, every tool swept). Tools listed without cases are failures too."""
    failures: list[str] = []
    swept: set[str] = set()
    b_rows = await tenant_rows(world.database, world.b.tenant_id)
    for server_name, connect in clients.items():
        async with connect() as client:
            listed = {tool.name for tool in (await client.list_tools()).tools}
            failures += [
                f"{server_name}: tool {name} has no isolation case in tool_cases.CASES"
                for name in missing_cases(listed)
            ]
            for name, number, probe in _in_order(listed & set(CASES)):
                failures += await _probe(client, name, number, probe, world, b_rows)
                swept.add(name)
            if server_name == "crm":
                await _probe_account_resource(client, world, failures)
    if platforms is not None:
        failures += [f"a platform request reached B: {r}" for r in platforms.reaching_b()]
    return failures, swept


async def _probe_account_resource(client: Client, world: TwoTenants, failures: list[str]) -> None:
    own = await client.read_resource(f"crm://accounts/{world.a.account_id}")
    if not own.contents:  # the control: the resource exists and serves A
        failures.append("crm://accounts/{id} did not serve A's own account")
    uri = f"crm://accounts/{world.b.account_id}"
    try:
        result = await client.read_resource(uri)
    except Exception as exc:  # the SDK raises the resource's error: refused, as it should be
        text = str(exc)
        if any(m in text for m in FOREIGN_MARKERS):
            failures.append(f"{uri}: the refusal leaks B's data: {text[:300]}")
        return
    failures.append(f"{uri}: B's account was served to A: {str(result)[:300]}")
