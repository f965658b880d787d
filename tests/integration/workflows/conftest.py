from __future__ import annotations

import uuid

import pytest

from shared.db.database import Database
from shared.tenants import create_tenant


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest) -> Database:
    """The same test on SQLite and Postgres. (tests/conftest.py's async `any_db` cannot call
    getfixturevalue from inside the running loop under pytest-asyncio 1.x; a sync one can.)"""
    found: Database = request.getfixturevalue(f"{request.param}_db")
    return found


@pytest.fixture
async def tenant_id(db: Database) -> uuid.UUID:
    return (await create_tenant(db, f"t-{uuid.uuid4().hex[:8]}")).id
