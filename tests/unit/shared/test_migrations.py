from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from shared.db.database import Database
from shared.db.migrate import head_revision, postgres_ddl, upgrade
from shared.db.schema import metadata
from shared.errors import SchemaVersionError


def _not_a_text_index(name: str | None, type_: str, parent_names: object) -> bool:
    """Migration 0003's FTS5 tables (and their shadow tables) are an index, not schema."""
    return not (type_ == "table" and name is not None and name.startswith("accounts_text"))


SPEC_TABLES = {
    "workflow_definitions",
    "workflow_executions",
    "external_tool_configs",
    "mcp_servers",
    "event_queue",
}


async def test_upgrade_creates_every_table_and_is_repeatable(sqlite_db: Database) -> None:
    assert await upgrade(sqlite_db.engine) == head_revision()
    async with sqlite_db.engine.connect() as conn:
        names = set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
    assert set(metadata.tables) <= names
    assert names >= SPEC_TABLES


async def test_migrations_match_the_table_definitions(sqlite_db: Database) -> None:
    def diff(conn: sa.Connection) -> list[object]:
        context = MigrationContext.configure(
            conn, opts={"compare_type": False, "include_name": _not_a_text_index}
        )
        return list(compare_metadata(context, metadata))

    async with sqlite_db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_every_table_but_tenants_carries_tenant_id() -> None:
    for table in metadata.tables.values():
        if table.name != "tenants":
            assert "tenant_id" in table.c, table.name


async def test_a_database_from_a_newer_switchboard_is_refused(sqlite_db: Database) -> None:
    async with sqlite_db.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    try:
        await upgrade(sqlite_db.engine)
    except SchemaVersionError as exc:
        assert "9999_future" in str(exc)
        assert "upgrade Switchboard" in str(exc)
    else:
        raise AssertionError("a newer schema was not refused")
    async with sqlite_db.engine.connect() as conn:
        version = (await conn.execute(sa.text("SELECT version_num FROM alembic_version"))).scalar()
    assert version == "9999_future"


async def test_unmigrated_database_is_not_ready(sqlite_url: str) -> None:
    db = Database.from_url(sqlite_url)
    try:
        await db.check_ready()
    except SchemaVersionError as exc:
        assert "switchboard db upgrade" in str(exc)
    else:
        raise AssertionError("an empty database passed check_ready")
    finally:
        await db.dispose()


def test_postgres_ddl_has_the_spec_tables_with_postgres_types() -> None:
    ddl = postgres_ddl()
    for table in SPEC_TABLES:
        assert f"CREATE TABLE {table} (" in ddl
    assert "gen_random_uuid()" in ddl
    assert "JSONB" in ddl
    assert "supported_operations TEXT[]" in ddl
    assert "TIMESTAMP WITH TIME ZONE" in ddl
