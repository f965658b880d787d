"""Fixtures for the tests against the local "Supabase": PostgREST on `switchboard_rest`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from shared.db.database import Database
from tests.integration.supabase.postgrest import (
    create_rest_tenant,
    prepare_rest_schema,
    rest_database,
    user_key,
)
from tests.services import POSTGREST_URL


@dataclass(frozen=True)
class RestTenant:
    id: uuid.UUID
    key: str  # a signed-in user's JWT for this tenant

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "apikey": self.key}


@pytest.fixture
async def rest_db() -> AsyncIterator[Database]:
    """The owner's connection to PostgREST's database (seeding; bypasses RLS)."""
    await prepare_rest_schema()
    db = rest_database()
    yield db
    await db.dispose()


async def _tenant(prefix: str) -> RestTenant:
    tenant_id = await create_rest_tenant(prefix)
    return RestTenant(tenant_id, user_key(tenant_id))


@pytest.fixture
async def tenant_a(rest_db: Database) -> RestTenant:
    return await _tenant("a")


@pytest.fixture
async def tenant_b(rest_db: Database) -> RestTenant:
    return await _tenant("b")


@pytest.fixture
async def rest() -> AsyncIterator[httpx.AsyncClient]:
    """Raw HTTP to PostgREST: requests our repository would never send."""
    async with httpx.AsyncClient(base_url=POSTGREST_URL, timeout=10.0) as http:
        yield http
