"""Pooled Postgres connections the server dropped are replaced before use."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from shared.db.database import Database


async def _backend_pids(db: Database) -> set[int]:
    async with db.engine.connect() as conn:
        return {int(await conn.scalar(sa.text("SELECT pg_backend_pid()")) or 0)}


async def test_a_connection_the_server_dropped_is_replaced_at_checkout(
    postgres_db: Database, postgres_url: str
) -> None:
    (first,) = await _backend_pids(postgres_db)  # now idle in the pool
    admin = Database.from_url(postgres_url)
    try:
        async with admin.engine.connect() as conn:
            await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    finally:
        await admin.dispose()

    (second,) = await _backend_pids(postgres_db)  # no error: the ping found it dead

    assert second != first


async def test_a_checkout_pings_in_one_statement_not_a_transaction(postgres_db: Database) -> None:
    sent: list[str] = []
    async with postgres_db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        driver.add_query_logger(lambda record: sent.append(record.query))  # stays with it
    async with postgres_db.engine.connect() as conn:  # the same pooled connection
        sent.clear()
        await conn.execute(sa.text("SELECT 1"))
    # The ping alone, then the statement's own transaction (the prepared SELECT itself is
    # not logged); `pool_pre_ping` sent "BEGIN;", ";", "ROLLBACK;" before all that.
    assert sent == [";", "BEGIN;", "ROLLBACK;"]
