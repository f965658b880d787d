"""Running Alembic migrations from code, on SQLite and Postgres, and printing the Postgres DDL."""

from __future__ import annotations

import io
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.errors import SchemaVersionError

__all__ = ["alembic_config", "current_revision", "head_revision", "postgres_ddl", "upgrade"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str = "postgresql://") -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


def _check_not_newer(revision: str | None) -> None:
    if revision is not None and revision not in _known_revisions():
        raise SchemaVersionError(
            f"the database schema is at revision '{revision}', which this version of "
            f"Switchboard does not know (its newest is '{head_revision()}'); "
            "upgrade Switchboard before using this database"
        )


def _upgrade(connection: Connection, target: str) -> None:
    _check_not_newer(_current(connection))
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, target)


async def upgrade(engine: AsyncEngine, target: str = "head") -> str:
    """Apply migrations up to `target` in one transaction; return the revision reached.

    Raises SchemaVersionError when the database is newer than this code.
    """
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, target)
        revision = await conn.run_sync(_current)
    assert revision is not None
    return revision


async def ensure_current(engine: AsyncEngine) -> None:
    """Raise SchemaVersionError unless the database is migrated to this code's head."""
    revision = await current_revision(engine)
    _check_not_newer(revision)
    if revision != head_revision():
        raise SchemaVersionError(
            "the database schema is not up to date "
            f"(at {revision or 'nothing'}, needs {head_revision()}); run `switchboard db upgrade`"
        )


def postgres_ddl() -> str:
    """The DDL of every migration for Postgres, ready for a Supabase migrations folder."""
    config = alembic_config("postgresql://")
    buffer = io.StringIO()
    config.output_buffer = buffer
    command.upgrade(config, "head", sql=True)
    return buffer.getvalue()
