"""A migrated SQLite store per test (copied from a per-session template) holding two
tenants (see two_tenants.py), and tenant A's platforms on in-process fakes."""

from __future__ import annotations

import pytest

from shared.crypto import CredentialCipher, generate_key
from shared.db.database import Database
from tests.unit.security.platform_fakes import AlphaPlatforms
from tests.unit.security.two_tenants import TwoTenants, build_two_tenants

SECRET_KEY = generate_key()  # one per session: every state of a test opens the same rows


@pytest.fixture
def store(copied_sqlite_db: Database) -> Database:
    return copied_sqlite_db


@pytest.fixture
async def two(store: Database) -> TwoTenants:
    return await build_two_tenants(store, CredentialCipher(SECRET_KEY))


@pytest.fixture
async def alpha_platforms(store: Database, two: TwoTenants) -> AlphaPlatforms:
    await AlphaPlatforms.configure(store, CredentialCipher(SECRET_KEY), two.a.tenant_id)
    return AlphaPlatforms()
