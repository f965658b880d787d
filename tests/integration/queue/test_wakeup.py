"""The worker's wakeup on Postgres: a NOTIFY wakes it; a LISTEN that fails, whichever layer
raises, leaves it polling with no connection held; a LISTEN connection the server cuts is
noticed and listened on again at the next wait."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg  # pyright: ignore[reportMissingTypeStubs]
import pytest
import sqlalchemy as sa

from orchestration.wakeup import NOTIFY_CHANNEL, Wakeup
from shared.db.database import Database


async def _until(condition: Any, deadline_s: float = 10) -> None:
    ends = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < ends, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_a_notify_wakes_a_listening_worker(postgres_db: Database) -> None:
    wakeup = Wakeup(postgres_db)
    await wakeup.start()
    try:
        assert wakeup.listening
        waiting = asyncio.create_task(wakeup.wait(30))
        async with postgres_db.engine.connect() as conn:
            await conn.execute(sa.text(f"NOTIFY {NOTIFY_CHANNEL}"))
            await conn.commit()
        assert await asyncio.wait_for(waiting, timeout=30) is True  # woken, not timed out
    finally:
        await wakeup.stop()


async def test_a_listen_that_fails_in_asyncpg_leaves_polling_and_holds_no_connection(
    postgres_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def cut(*_: Any) -> None:  # as asyncpg fails on a connection the server is closing
        raise asyncpg.exceptions.InternalClientError("cannot switch to state 12")

    monkeypatch.setattr(asyncpg.Connection, "add_listener", cut)
    wakeup = Wakeup(postgres_db)
    await wakeup.start()  # does not raise
    pool: Any = postgres_db.engine.sync_engine.pool
    try:
        assert not wakeup.listening
        assert pool.checkedout() == 0  # the connection it got was given back
        assert await wakeup.wait(0) is False  # polling

        monkeypatch.undo()
        await wakeup.wait(0)  # listens again once it can
        assert wakeup.listening
    finally:
        await wakeup.stop()


async def test_a_listen_connection_the_server_cuts_is_listened_on_again(
    postgres_db: Database,
) -> None:
    wakeup = Wakeup(postgres_db)
    await wakeup.start()
    try:
        async with postgres_db.engine.connect() as conn:
            cut = await conn.scalar(
                sa.text(
                    "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                )
            )
        assert cut
        await _until(lambda: not wakeup.listening)  # the termination listener noticed
        await wakeup.wait(0)
        assert wakeup.listening
    finally:
        await wakeup.stop()
