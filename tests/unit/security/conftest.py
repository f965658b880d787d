"""A migrated SQLite store per test (copied from a per-session template) holding two
tenants (see two_tenants.py), and tenant A's platforms on in-process fakes."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.crypto import CredentialCipher, generate_key
from shared.db.database import Database
from shared.db.migrate import upgrade
from tests.unit.security.platform_fakes import AlphaPlatforms
from tests.unit.security.two_tenants import TwoTenants, build_two_tenants

SECRET_KEY = generate_key()  # one per session: every state of a test opens the same rows


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("security") / "template.sqlite3"

    async def migrate() -> None:
        db = Database.from_url(f"sqlite:///{path}")
        await upgrade(db.engine)
        await db.dispose()

    asyncio.run(migrate())
    return path


@pytest.fixture
async def store(migrated_sqlite: Path, tmp_path: Path) -> AsyncIterator[Database]:
    path = tmp_path / "store.sqlite3"  # where SWITCHBOARD_DATABASE_URL points in tests
    shutil.copyfile(migrated_sqlite, path)
    db = Database.from_url(f"sqlite:///{path}")
    yield db
    await db.dispose()


@pytest.fixture
async def two(store: Database) -> TwoTenants:
    return await build_two_tenants(store, CredentialCipher(SECRET_KEY))


@pytest.fixture
async def alpha_platforms(store: Database, two: TwoTenants) -> AlphaPlatforms:
    await AlphaPlatforms.configure(store, CredentialCipher(SECRET_KEY), two.a.tenant_id)
    return AlphaPlatforms()
