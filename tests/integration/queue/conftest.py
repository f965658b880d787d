"""Fixtures for the queue contract: tenants, a movable clock, a store on each database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from orchestration.queue.sql_store import SqlQueueStore
from shared.db.database import Database
from shared.tenants import Tenant, create_tenant


class MovableClock:
    """Real time plus an offset tests advance, so 'later' needs no sleep."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def tenant(any_db: Database) -> Tenant:
    return await create_tenant(any_db, "acme")


@pytest.fixture
async def other_tenant(any_db: Database) -> Tenant:
    return await create_tenant(any_db, "globex")


@pytest.fixture
async def store(any_db: Database, clock: MovableClock) -> AsyncIterator[SqlQueueStore]:
    queue = SqlQueueStore(any_db, clock=clock, retry_base_s=10, retry_max_s=100)
    yield queue
    await queue.close()


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest) -> Database:
    """The same test on SQLite and on Postgres.

    Overrides tests/conftest.py's async `any_db`: under pytest-asyncio 1.x an async fixture
    cannot `getfixturevalue` another async fixture (the loop is already running), while a
    plain fixture can. Remove this once the shared fixture is made synchronous too.
    """
    name = "sqlite_db" if request.param == "sqlite" else "postgres_db"
    db: Database = request.getfixturevalue(name)
    return db
