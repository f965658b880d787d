"""What every tool call reaches through the lifespan: settings, the store, the caller resolver
and the CRM repository of the caller's tenant.

`open_local_state` builds it for stdio (tenant from `SWITCHBOARD_TENANT`, or the demo tenant;
the local user is an admin, read-only if `SWITCHBOARD_READ_ONLY`). The HTTP app builds one
`AppState` with its own resolver (tenant and role from the verified token) and hands it to
every server it mounts, so they share one connection pool.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.server.context import ServerRequestContext

from servers.mcp.common.caller import CallerContext, CallerResolver, Role, StaticCallerResolver
from shared.audit import AuditWriter
from shared.config import Settings
from shared.crm.repository import CrmRepository
from shared.db.database import Database
from shared.tenants import resolve_tenant

__all__ = [
    "AppState",
    "RepositoryFactory",
    "borrowed",
    "configured_repositories",
    "lifespan_from",
    "open_local_state",
]

RepositoryFactory = Callable[[uuid.UUID], Awaitable[CrmRepository]]
"""Builds the CRM repository bound to one tenant; called once per tenant, then cached."""


@dataclass
class AppState:
    settings: Settings
    database: Database
    resolver: CallerResolver
    repository_factory: RepositoryFactory
    _repositories: dict[uuid.UUID, CrmRepository] = field(default_factory=dict[uuid.UUID, Any])
    # One factory call per tenant even when its first requests arrive together.
    _building: anyio.Lock = field(default_factory=anyio.Lock)
    # Tool calls' audit rows. It writes each row at once until whoever owns this state
    # enters `audit.running()` (the stdio server, the HTTP app); then rows are batched.
    audit: AuditWriter = field(init=False)

    def __post_init__(self) -> None:
        self.audit = AuditWriter(self.database)

    async def caller(self, request: ServerRequestContext[Any, Any]) -> CallerContext:
        return await self.resolver(request)

    async def crm(self, tenant_id: uuid.UUID) -> CrmRepository:
        """The tenant's repository (one per tenant, reused across requests)."""
        repository = self._repositories.get(tenant_id)
        if repository is not None:
            return repository
        async with self._building:
            repository = self._repositories.get(tenant_id)
            if repository is None:
                repository = await self.repository_factory(tenant_id)
                self._repositories[tenant_id] = repository
        return repository


def configured_repositories(
    settings: Settings, database: Database, exit_stack: AsyncExitStack
) -> RepositoryFactory:
    """Repositories of the configured data source (sql or supabase) whose writes publish
    lifecycle events; each is closed (its HTTP client, for supabase) with `exit_stack`."""
    from orchestration.events.crm_sink import CrmEventSink
    from shared.crm.factory import crm_repository

    async def build(tenant_id: uuid.UUID) -> CrmRepository:
        sink = CrmEventSink(database, tenant_id)
        return await exit_stack.enter_async_context(
            crm_repository(settings, database, tenant_id, change_sink=sink)
        )

    return build


@asynccontextmanager
async def open_local_state(settings: Settings) -> AsyncGenerator[AppState]:
    """The stdio server's state: the configured store and tenant, one local admin caller.

    Raises a SwitchboardError (unreachable store, unmigrated schema, unknown tenant) with
    what to do, before the server accepts its first request.
    """
    database = Database.from_url(settings.database_url)
    try:
        await database.check_ready()
        tenant = await resolve_tenant(database, settings.tenant)
        caller = CallerContext(tenant_id=tenant.id, role=Role.ADMIN, read_only=settings.read_only)
        async with AsyncExitStack() as repositories:
            state = AppState(
                settings=settings,
                database=database,
                resolver=StaticCallerResolver(caller),
                repository_factory=configured_repositories(settings, database, repositories),
            )
            async with state.audit.running():
                yield state
    finally:
        await database.dispose()


def lifespan_from(
    provide: Callable[[], AbstractAsyncContextManager[AppState]],
) -> Callable[[Any], AbstractAsyncContextManager[AppState]]:
    """An MCPServer lifespan that enters `provide()` once per app and yields its state."""

    @asynccontextmanager
    async def lifespan(_server: Any) -> AsyncGenerator[AppState]:
        async with provide() as state:
            yield state

    return lifespan


@asynccontextmanager
async def borrowed(state: AppState) -> AsyncGenerator[AppState]:
    """Lend a state someone else owns (the HTTP app, a test) without closing it."""
    yield state
