from __future__ import annotations

import sqlalchemy as sa

from shared.db.database import Database
from shared.db.migrate import head_revision, upgrade


async def test_migrations_run_on_postgres_and_use_native_types(postgres_db: Database) -> None:
    assert await upgrade(postgres_db.engine) == head_revision()
    async with postgres_db.engine.connect() as conn:
        rows = await conn.execute(
            sa.text(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = 'external_tool_configs'"
            )
        )
        types: dict[str, str] = {row[0]: row[1] for row in rows}
    assert types["id"] == "uuid"
    assert types["credentials"] == "jsonb"
    assert types["supported_operations"] == "ARRAY"
    assert types["last_health_check"] == "timestamp with time zone"


async def test_server_defaults_fill_ids_and_timestamps_on_postgres(postgres_db: Database) -> None:
    async with postgres_db.engine.begin() as conn:
        row = (
            await conn.execute(
                sa.text("INSERT INTO tenants (name) VALUES ('t') RETURNING id, created_at")
            )
        ).one()
    assert row.id is not None
    assert row.created_at is not None
