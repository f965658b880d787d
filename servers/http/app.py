"""The HTTP app `switchboard serve` runs: the MCP servers over streamable HTTP, health
endpoints, and (by default) the embedded worker, all on one port.

    /mcp/crm            CRM data server (streamable HTTP, bearer token)
    /mcp/analysis       analysis server (when built)
    /mcp/orchestration  orchestration server (when built)
    /healthz, /readyz   liveness and readiness
    /webhooks/{source}  signed deliveries from n8n, Make, ClickUp, Apify, generic senders
    /metrics            Prometheus text, no token: reachable only where serve listens
    /dashboard          operations dashboard (page: login form; /api/dashboard...: token)
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from servers.http.auth import BearerAuthMiddleware, CachedTokenVerifier, TokenCallerResolver
from servers.http.dashboard import dashboard_routes
from servers.http.embedded_worker import EmbeddedWorker
from servers.http.health import ReadinessCheck, healthz, readyz_endpoint
from servers.http.ingest import GroupPublisher
from servers.http.metrics import MetricsEndpoint
from servers.http.webhooks import webhook_endpoint
from servers.mcp.analysis import build_analysis_server
from servers.mcp.common.state import AppState, configured_repositories
from servers.mcp.crm import build_crm_server
from servers.mcp.orchestration import build_orchestration_server
from shared.auth.tokens import BearerTokenVerifier
from shared.config import Settings
from shared.db.database import Database

__all__ = ["HttpOptions", "build_app", "mcp_transport_options"]

log = logging.getLogger(__name__)

BackgroundTask = Callable[[AppState], Coroutine[Any, Any, None]]


@dataclass
class HttpOptions:
    host: str = "127.0.0.1"
    port: int = 8765
    allowed_hosts: list[str] = field(default_factory=list[str])  # public host names, if any
    embedded_worker: bool = True  # `serve --no-worker`: events are left to `switchboard worker`
    background: list[BackgroundTask] = field(default_factory=list[BackgroundTask])


def _transport_security(options: HttpOptions) -> TransportSecuritySettings:
    # DNS-rebinding protection: only loopback names (any port: rebinding swaps the host name,
    # not the port) and the public names the operator lists may address the MCP endpoints.
    loopback = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    hosts = [*loopback, *options.allowed_hosts]
    origins = [f"http://{h}" for h in loopback] + [
        f"{scheme}://{h}" for h in options.allowed_hosts for scheme in ("http", "https")
    ]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def mcp_transport_options(options: HttpOptions) -> dict[str, Any]:
    """The `streamable_http_app` arguments of every mounted server (bench/http.py gives its
    bare baseline server the same ones, so the comparison is like for like)."""
    return {
        "streamable_http_path": "/",
        "transport_security": _transport_security(options),
        "host": options.host,
    }


def build_app(settings: Settings, options: HttpOptions | None = None) -> Starlette:
    options = options or HttpOptions()
    database = Database.from_url(settings.database_url)
    repositories = AsyncExitStack()  # closed when the app stops
    state = AppState(
        settings=settings,
        database=database,
        resolver=TokenCallerResolver(read_only=settings.read_only),
        repository_factory=configured_repositories(settings, database, repositories),
    )
    verifier = BearerTokenVerifier.from_settings(database, settings)
    servers: dict[str, MCPServer[AppState]] = {
        "crm": build_crm_server(state=state),
        "analysis": build_analysis_server(state=state),
        "orchestration": build_orchestration_server(state=state),
    }

    async def database_ready() -> dict[str, Any]:
        await database.check_ready()
        return {"dialect": database.dialect}

    checks: dict[str, ReadinessCheck] = {"database": database_ready}
    background = list(options.background)
    publisher = GroupPublisher(database)
    background.append(lambda _state: publisher.run())
    if options.embedded_worker:
        worker = EmbeddedWorker()
        background.append(worker)
        checks["worker"] = worker.readiness
    routes: list[Route | Mount] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz_endpoint(checks)),
        Route("/metrics", MetricsEndpoint(database).handle),
        Route(
            "/webhooks/{source}",
            webhook_endpoint(database, settings, publisher),
            methods=["POST"],
        ),
        *dashboard_routes(database, verifier),
    ]
    # MCP clients send a request per tool call: verified tokens are reused for a few seconds.
    mcp_verifier = CachedTokenVerifier(verifier)
    for name, server in servers.items():
        mcp_app = server.streamable_http_app(**mcp_transport_options(options))
        routes.append(
            Mount(f"/mcp/{name}", app=BearerAuthMiddleware(mcp_app, mcp_verifier, f"mcp/{name}"))
        )

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncGenerator[None]:
        await database.check_ready()
        # The audit writer starts first and stops last: rows of calls still in flight when
        # the servers stop are written before the app exits.
        async with repositories, state.audit.running(), AsyncExitStack() as stack:
            for server in servers.values():
                await stack.enter_async_context(server.session_manager.run())
            async with anyio.create_task_group() as tasks:
                for task in background:
                    tasks.start_soon(task, state)
                try:
                    yield
                finally:
                    tasks.cancel_scope.cancel()
        with contextlib.suppress(Exception):
            await database.dispose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.audit = state.audit  # `await app.state.audit.flush()`: tool calls' audit rows
    return app
