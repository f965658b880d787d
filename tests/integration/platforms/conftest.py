"""Fixtures for the platform integration tests."""

from __future__ import annotations

import pytest

from shared.db.database import Database


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest) -> Database:
    """The same test on SQLite and on Postgres.

    Overrides tests/conftest.py's async `any_db`: under pytest-asyncio 1.x an async fixture
    cannot `getfixturevalue` another async fixture. Remove once the shared one is sync.
    """
    name = "sqlite_db" if request.param == "sqlite" else "postgres_db"
    db: Database = request.getfixturevalue(name)
    return db
