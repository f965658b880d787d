"""A migrated SQLite store with a small CRM (see crm_world.py).

Migrating takes most of a second, so the schema is built once per session and each test
gets its own copy of that file.
"""

from __future__ import annotations

import pytest

from shared.db.database import Database
from tests.unit.servers.mcp.crm_world import CrmWorld, build_world


@pytest.fixture
def crm_db(copied_sqlite_db: Database) -> Database:
    return copied_sqlite_db


@pytest.fixture
async def world(crm_db: Database) -> CrmWorld:
    return await build_world(crm_db)
