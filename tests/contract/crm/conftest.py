"""The CRM data sources the contract suite runs against: one fixture, one param each.

A backend gives a Database to build rows on (the store the repository reads) and a factory
for a repository bound to one tenant. To add a data source, add a param and a branch that
yields a `CrmBackend` (the `supabase` one builds on the Postgres behind PostgREST and makes
repositories with each tenant's JWT).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from shared.crm.repository import CrmChangeSink, CrmRepository
from shared.crm.sql import SqlCrmRepository
from shared.db.database import Database
from tests.contract.crm.builders import CrmBuilder
from tests.integration.supabase.backend import supabase_repositories

RepositoryFactory = Callable[[uuid.UUID, CrmChangeSink | None], Awaitable[CrmRepository]]


@dataclass
class CrmBackend:
    name: str
    db: Database
    make_repository: RepositoryFactory
    # True: the sink runs inside the write's transaction, so a sink that raises undoes it.
    sink_in_transaction: bool

    @property
    def build(self) -> CrmBuilder:
        return CrmBuilder(self.db)

    async def repository(
        self, tenant_id: uuid.UUID, sink: CrmChangeSink | None = None
    ) -> CrmRepository:
        return await self.make_repository(tenant_id, sink)


def _sql_backend(name: str, db: Database) -> CrmBackend:
    async def make(tenant_id: uuid.UUID, sink: CrmChangeSink | None) -> CrmRepository:
        return SqlCrmRepository(db, tenant_id, sink)

    return CrmBackend(name, db, make, sink_in_transaction=True)


@pytest.fixture
async def supabase_backend() -> AsyncIterator[CrmBackend]:
    """PostgREST with each tenant's JWT (tests/integration/supabase/backend.py)."""
    async with supabase_repositories() as (db, make):
        yield CrmBackend("supabase", db, make, sink_in_transaction=False)


@pytest.fixture(params=["sqlite", "postgres", "supabase"])
def crm_backend(request: pytest.FixtureRequest) -> CrmBackend:
    """Synchronous on purpose: an async fixture cannot pull async fixtures by name."""
    if request.param in ("sqlite", "postgres"):
        db: Database = request.getfixturevalue(f"{request.param}_db")
        return _sql_backend(request.param, db)
    if request.param == "supabase":
        backend: CrmBackend = request.getfixturevalue("supabase_backend")
        return backend
    raise AssertionError(f"no CRM backend named {request.param}")
