"""Fixtures every test may use: a migrated store on SQLite or on a fresh Postgres database."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from shared.config import get_settings
from shared.db.database import Database
from shared.db.migrate import upgrade
from tests.services import POSTGRES_URL, require

# One template per test session (pid-qualified), so concurrent sessions never race on it.
TEMPLATE_DB = f"switchboard_template_{os.getpid()}"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's .env or writes to their data directory."""
    for key in list(os.environ):
        if key.startswith("SWITCHBOARD_") and not key.startswith(
            ("SWITCHBOARD_TEST_", "SWITCHBOARD_REQUIRE_")
        ):
            monkeypatch.delenv(key)
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", f"sqlite:///{tmp_path / 'store.sqlite3'}")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.sqlite3'}"


@pytest.fixture
async def sqlite_db(sqlite_url: str) -> AsyncIterator[Database]:
    db = Database.from_url(sqlite_url)
    await upgrade(db.engine)
    yield db
    await db.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, built once per session (migrating takes most of a second)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"

    async def migrate() -> None:
        db = Database.from_url(f"sqlite:///{path}")
        await upgrade(db.engine)
        await db.dispose()

    asyncio.run(migrate())
    return path


@pytest.fixture
async def copied_sqlite_db(migrated_sqlite_file: Path, tmp_path: Path) -> AsyncIterator[Database]:
    """A fresh store for this test: a copy of the session's migrated file, at the path
    SWITCHBOARD_DATABASE_URL points to in tests."""
    path = tmp_path / "store.sqlite3"
    shutil.copyfile(migrated_sqlite_file, path)
    db = Database.from_url(f"sqlite:///{path}")
    yield db
    await db.dispose()


def _admin_url() -> str:
    return make_url(POSTGRES_URL).set(database="postgres").render_as_string(hide_password=False)


_template_ready = False


async def _ensure_template() -> None:
    """Migrate a template database once per session; each test clones it (fast, isolated)."""
    global _template_ready
    if _template_ready:
        return
    admin = Database.from_url(_admin_url(), isolation_level="AUTOCOMMIT")
    async with admin.engine.connect() as conn:
        await conn.execute(sa.text(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)"))
        await conn.execute(sa.text(f"CREATE DATABASE {TEMPLATE_DB}"))
    await admin.dispose()
    template_url = make_url(POSTGRES_URL).set(database=TEMPLATE_DB)
    template = Database.from_url(template_url.render_as_string(hide_password=False))
    await upgrade(template.engine)
    await template.dispose()
    _template_ready = True


async def _drop_template() -> None:
    admin = Database.from_url(_admin_url(), isolation_level="AUTOCOMMIT")
    async with admin.engine.connect() as conn:
        await conn.execute(sa.text(f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)"))
    await admin.dispose()


@pytest.fixture(scope="session", autouse=True)
def _template_cleanup() -> Iterator[None]:
    yield
    if _template_ready:
        asyncio.run(_drop_template())


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A freshly migrated Postgres database of this test's own, dropped afterwards."""
    require(POSTGRES_URL, "PostgreSQL")
    await _ensure_template()
    name = f"sb_test_{uuid.uuid4().hex[:12]}"
    admin = Database.from_url(_admin_url(), isolation_level="AUTOCOMMIT")
    async with admin.engine.connect() as conn:
        await conn.execute(sa.text(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}"))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.engine.connect() as conn:
            await conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        await admin.dispose()


@pytest.fixture
async def postgres_db(postgres_url: str) -> AsyncIterator[Database]:
    db = Database.from_url(postgres_url)
    yield db
    await db.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_db(request: pytest.FixtureRequest) -> Database:
    """The same test on SQLite and on Postgres.

    A plain (sync) fixture on purpose: pytest-asyncio resolves the async fixture it asks for
    in its own loop, which an async fixture calling getfixturevalue could not.
    """
    name = "sqlite_db" if request.param == "sqlite" else "postgres_db"
    db: Database = request.getfixturevalue(name)
    return db
