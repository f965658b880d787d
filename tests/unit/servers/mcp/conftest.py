"""A migrated SQLite store with a small CRM (see crm_world.py).

Migrating takes most of a second, so the schema is built once per session and each test
gets its own copy of that file.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.db.database import Database
from shared.db.migrate import upgrade
from tests.unit.servers.mcp.crm_world import CrmWorld, build_world


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"

    async def migrate() -> None:
        db = Database.from_url(f"sqlite:///{path}")
        await upgrade(db.engine)
        await db.dispose()

    asyncio.run(migrate())
    return path


@pytest.fixture
async def crm_db(migrated_template: Path, tmp_path: Path) -> AsyncIterator[Database]:
    path = tmp_path / "store.sqlite3"  # where SWITCHBOARD_DATABASE_URL points in tests
    shutil.copyfile(migrated_template, path)
    db = Database.from_url(f"sqlite:///{path}")
    yield db
    await db.dispose()


@pytest.fixture
async def world(crm_db: Database) -> CrmWorld:
    return await build_world(crm_db)
