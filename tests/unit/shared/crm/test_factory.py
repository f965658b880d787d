"""Settings pick the CRM data source."""

from __future__ import annotations

import uuid

import pytest

from shared.config import CrmSource, Settings
from shared.crm.factory import crm_repository, open_crm_repository
from shared.crm.sql import SqlCrmRepository
from shared.db.database import Database
from shared.errors import ConfigError


async def test_sql_source_gives_a_sql_repository_bound_to_the_tenant(sqlite_db: Database) -> None:
    tenant = uuid.uuid4()
    repository = await open_crm_repository(Settings(crm_source=CrmSource.SQL), sqlite_db, tenant)
    async with crm_repository(Settings(), sqlite_db, tenant) as scoped:
        assert isinstance(scoped, SqlCrmRepository)
    assert isinstance(repository, SqlCrmRepository)
    assert repository.tenant_id == tenant


async def test_supabase_source_without_url_or_key_says_what_to_set(sqlite_db: Database) -> None:
    settings = Settings(crm_source=CrmSource.SUPABASE)
    with pytest.raises(ConfigError, match="SWITCHBOARD_SUPABASE"):
        await open_crm_repository(settings, sqlite_db, uuid.uuid4())
