"""The `supabase` data source as the CRM contract suite uses it: rows built on PostgREST's
database, repositories that reach it through PostgREST with each tenant's own JWT, so row
level security (not only our filter) stands between tenants."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from supabase import AsyncClient

from shared.crm.repository import CrmChangeSink, CrmRepository
from shared.crm.supabase import SupabaseCrmRepository
from shared.crm.supabase_client import close_supabase_client, create_supabase_client
from shared.db.database import Database
from tests.integration.supabase.postgrest import prepare_rest_schema, rest_database, user_key
from tests.services import POSTGREST_URL

__all__ = ["supabase_repositories"]

RepositoryFactory = Callable[[uuid.UUID, CrmChangeSink | None], Awaitable[CrmRepository]]


@asynccontextmanager
async def supabase_repositories() -> AsyncIterator[tuple[Database, RepositoryFactory]]:
    """(the owner's Database to build rows on, a factory of per-tenant repositories)."""
    await prepare_rest_schema()
    db = rest_database()
    clients: list[AsyncClient] = []

    async def make(tenant_id: uuid.UUID, sink: CrmChangeSink | None) -> CrmRepository:
        client = await create_supabase_client(POSTGREST_URL, user_key(tenant_id))
        clients.append(client)
        return SupabaseCrmRepository(client, tenant_id, sink)

    try:
        yield db, make
    finally:
        for client in clients:
            await close_supabase_client(client)
        await db.dispose()
