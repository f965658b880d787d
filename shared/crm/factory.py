"""The one place that turns settings into a CRM data source for a tenant."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from shared.config import CrmSource, Settings
from shared.crm.repository import CrmChangeSink, CrmRepository
from shared.crm.sql import SqlCrmRepository
from shared.db.database import Database
from shared.tenants import Tenant

__all__ = ["crm_repository", "open_crm_repository"]


def _tenant_id(tenant: Tenant | uuid.UUID) -> uuid.UUID:
    return tenant if isinstance(tenant, uuid.UUID) else tenant.id


async def open_crm_repository(
    settings: Settings,
    db: Database,
    tenant: Tenant | uuid.UUID,
    change_sink: CrmChangeSink | None = None,
) -> CrmRepository:
    """`sql` (the store at `db`) or `supabase` (REST, per `settings.crm_source`).

    A `supabase` repository holds an HTTP client for the life of the process; use
    `crm_repository` where it should be closed at the end of a scope. Raises ConfigError
    when the Supabase URL or key is missing."""
    tenant_id = _tenant_id(tenant)
    if settings.crm_source is CrmSource.SQL:
        return SqlCrmRepository(db, tenant_id, change_sink)
    # Imported here so the sql path never loads the supabase client.
    from shared.crm.supabase import SupabaseCrmRepository
    from shared.crm.supabase_client import create_supabase_client_from_settings

    client = await create_supabase_client_from_settings(settings)
    return SupabaseCrmRepository(client, tenant_id, change_sink)


@asynccontextmanager
async def crm_repository(
    settings: Settings,
    db: Database,
    tenant: Tenant | uuid.UUID,
    change_sink: CrmChangeSink | None = None,
) -> AsyncGenerator[CrmRepository]:
    """`open_crm_repository` for one scope: closes the Supabase HTTP client afterwards."""
    tenant_id = _tenant_id(tenant)
    if settings.crm_source is CrmSource.SQL:
        yield SqlCrmRepository(db, tenant_id, change_sink)
        return
    from shared.crm.supabase import SupabaseCrmRepository
    from shared.crm.supabase_client import (
        close_supabase_client,
        create_supabase_client_from_settings,
    )

    client = await create_supabase_client_from_settings(settings)
    try:
        yield SupabaseCrmRepository(client, tenant_id, change_sink)
    finally:
        await close_supabase_client(client)
