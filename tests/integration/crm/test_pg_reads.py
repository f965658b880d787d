"""How the `sql` data source's hot Postgres reads hold their connections (pg_reads): leased
from the Database's pool and reused without a ping, a dropped one replaced without the
caller noticing, a failed or cancelled read's connection never reused, all closed with the
engine."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import asyncpg  # pyright: ignore[reportMissingTypeStubs]
import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url

from shared.crm.sql import SqlCrmRepository
from shared.db import pg_reads
from shared.db.database import Database
from shared.db.pg_reads import PostgresReader, postgres_reader
from shared.errors import DatabaseUnavailableError
from tests.contract.crm.builders import CrmBuilder


async def backend_pid(db: Database) -> int:
    async def pid(conn: Any) -> int:
        return int(await conn.fetchval("SELECT pg_backend_pid()"))

    return await postgres_reader(db).run(pid)


async def test_a_lease_is_reused_without_a_ping(postgres_db: Database) -> None:
    reader = postgres_reader(postgres_db)
    pings: list[str] = []

    async def first(conn: Any) -> int:
        return int(await conn.fetchval("SELECT 1"))

    assert await reader.run(first) == 1

    def record(*_: Any) -> None:
        pings.append("checkout")

    event.listen(postgres_db.engine.sync_engine, "checkout", record)
    try:
        pids = {await backend_pid(postgres_db) for _ in range(3)}
    finally:
        event.remove(postgres_db.engine.sync_engine, "checkout", record)
    assert len(pids) == 1 and pings == []  # one connection, never checked out (pinged) again
    assert reader.fresh_leases == 1


async def test_a_connection_the_server_dropped_is_replaced_and_the_read_answers(
    postgres_db: Database,
) -> None:
    build = CrmBuilder(postgres_db)
    tenant = await build.tenant()
    acme = await build.account(tenant, "Acme")
    repo = SqlCrmRepository(postgres_db, tenant)
    reader = postgres_reader(postgres_db)
    leased = await backend_pid(postgres_db)
    async with postgres_db.engine.connect() as admin:
        killed = await admin.scalar(sa.text(f"SELECT pg_terminate_backend({leased})"))
    assert killed

    assert (await repo.get_account(acme)).name == "Acme"
    assert reader.fresh_leases == 2  # seen closed before use, or failed and run again
    assert await backend_pid(postgres_db) != leased


async def test_a_read_that_finds_its_connection_gone_runs_once_more_on_a_fresh_one(
    postgres_db: Database,
) -> None:
    reader = postgres_reader(postgres_db)
    leased = await backend_pid(postgres_db)
    seen: list[int] = []

    async def read(conn: Any) -> int:
        seen.append(int(await conn.fetchval("SELECT pg_backend_pid()")))
        if len(seen) == 1:  # as asyncpg says it when the server has closed the connection
            raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")
        return seen[-1]

    fresh = await reader.run(read)
    assert seen == [leased, fresh] and fresh != leased
    assert reader.retried == 1

    async def always_gone(conn: Any) -> None:
        raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

    with pytest.raises(DatabaseUnavailableError, match="cannot connect to Postgres at"):
        await reader.run(always_gone)  # a fresh connection failing too: the server is going


async def test_a_failed_or_cancelled_read_does_not_keep_its_connection(
    postgres_db: Database,
) -> None:
    reader = postgres_reader(postgres_db)
    first = await backend_pid(postgres_db)

    async def broken(conn: Any) -> None:
        await conn.fetch("SELECT * FROM no_such_table")

    with pytest.raises(Exception, match="no_such_table"):
        await reader.run(broken)
    second = await backend_pid(postgres_db)
    assert second != first

    started = asyncio.Event()

    async def slow(conn: Any) -> None:
        started.set()
        await conn.fetch("SELECT pg_sleep(30)")

    task = asyncio.create_task(reader.run(slow))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await backend_pid(postgres_db) not in (first, second)


async def test_concurrent_reads_keep_only_a_few_leases_and_dispose_closes_them(
    postgres_url: str,
) -> None:
    db = Database.from_url(postgres_url)
    reader = postgres_reader(db)
    count = pg_reads.IDLE_LEASES + 3
    holding: list[int] = []
    all_holding, gate = asyncio.Event(), asyncio.Event()

    async def held(conn: Any) -> int:
        holding.append(1)
        if len(holding) == count:
            all_holding.set()
        await gate.wait()
        return int(await conn.fetchval("SELECT pg_backend_pid()"))

    reads = [asyncio.create_task(reader.run(held)) for _ in range(count)]
    await asyncio.wait_for(all_holding.wait(), timeout=30)  # each holds a connection at once
    gate.set()
    assert len(set(await asyncio.gather(*reads))) == count  # one connection each
    pool: Any = db.engine.sync_engine.pool
    assert pool.checkedout() == pg_reads.IDLE_LEASES  # the rest went back to the pool

    kept: list[Any] = [lease.driver_connection for lease in reader._idle]  # pyright: ignore[reportPrivateUsage]
    await db.dispose()
    assert kept and all(conn.is_closed() for conn in kept)


async def test_a_server_that_cannot_be_reached_is_said_so_with_what_to_check(
    postgres_url: str,
) -> None:
    nowhere = make_url(postgres_url).set(port=1).render_as_string(hide_password=False)
    db = Database.from_url(nowhere)
    try:
        with pytest.raises(DatabaseUnavailableError, match="check SWITCHBOARD_DATABASE_URL"):
            await SqlCrmRepository(db, uuid.uuid4()).get_account(uuid.uuid4())
    finally:
        await db.dispose()


async def test_a_small_pool_lends_no_connection_for_long(postgres_url: str) -> None:
    db = Database.from_url(postgres_url, pool_size=3, max_overflow=0)
    try:
        pids = {await backend_pid(db) for _ in range(2)}
        pool: Any = db.engine.sync_engine.pool
        assert pool.checkedout() == 0  # every read gave its connection back
        assert len(pids) == 1  # and took the pool's idle one again
    finally:
        await db.dispose()


async def pid_of(conn: Any) -> int:
    return int(await conn.fetchval("SELECT pg_backend_pid()"))


async def kept_pair(db: Database) -> tuple[PostgresReader, tuple[int, int]]:
    """`db`'s reader once it keeps two leases (one read, then one pair), and their pids."""
    reader = postgres_reader(db)
    await backend_pid(db)
    pair = await reader.run_together(pid_of, pid_of)
    assert pair is not None
    return reader, pair


async def test_run_together_runs_both_reads_at_once_on_two_kept_connections(
    postgres_db: Database,
) -> None:
    reader = postgres_reader(postgres_db)
    assert await reader.run_together(pid_of, pid_of) is None  # no lease yet: ran nothing
    assert reader.fresh_leases == 0
    first = await backend_pid(postgres_db)  # now one lease is kept

    arrived: list[int] = []
    both_arrived = asyncio.Event()

    async def meet(conn: Any) -> int:
        arrived.append(1)
        if len(arrived) == 2:
            both_arrived.set()
        # Returns only if the other read is running too: one after the other would time out.
        await asyncio.wait_for(both_arrived.wait(), timeout=30)
        return await pid_of(conn)

    together = await reader.run_together(meet, meet)
    assert together is not None
    assert first in together and together[0] != together[1]
    assert reader.fresh_leases == 2  # the second connection came from the pool, once

    again = await reader.run_together(pid_of, pid_of)
    assert again is not None and set(again) == set(together)  # both kept for the next pair
    assert reader.fresh_leases == 2


async def test_run_together_runs_nothing_when_the_pool_is_too_small_to_keep_two(
    postgres_url: str,
) -> None:
    db = Database.from_url(postgres_url, pool_size=4)  # keeps one lease
    try:
        reader = postgres_reader(db)
        await backend_pid(db)
        assert await reader.run_together(pid_of, pid_of) is None
        assert reader.fresh_leases == 1
    finally:
        await db.dispose()


async def test_a_pair_with_a_failing_read_raises_it_and_keeps_only_the_good_connection(
    postgres_db: Database,
) -> None:
    reader, pair = await kept_pair(postgres_db)

    async def broken(conn: Any) -> None:
        await conn.fetch("SELECT * FROM no_such_table")

    with pytest.raises(Exception, match="no_such_table"):
        await reader.run_together(pid_of, broken)
    kept = [await pid_of(lease.driver_connection) for lease in reader._idle]  # pyright: ignore[reportPrivateUsage]
    assert len(kept) == 1 and kept[0] in pair  # the failed read's connection was closed


async def test_run_together_waits_for_the_pool_holding_no_connection(postgres_url: str) -> None:
    """With the pool empty, a pair waits for its second connection without taking the idle
    lease, which any other read can still use meanwhile; it goes on once the pool has one."""
    db = Database.from_url(postgres_url, pool_size=8, max_overflow=0)  # keeps two leases
    try:
        reader = postgres_reader(db)
        await backend_pid(db)  # one lease kept, seven connections left in the pool
        async with contextlib.AsyncExitStack() as held:
            for _ in range(7):
                await held.enter_async_context(db.engine.connect())
            pair = asyncio.create_task(reader.run_together(pid_of, pid_of))
            for _ in range(20):  # let it run up to its wait on the pool
                await asyncio.sleep(0)
            assert not pair.done()
            assert len(reader._idle) == 1  # pyright: ignore[reportPrivateUsage]
            # Another read is served by the kept lease while the pair waits on the pool.
            assert await asyncio.wait_for(backend_pid(db), timeout=30) > 0
            assert not pair.done()
        together = await asyncio.wait_for(pair, timeout=30)  # the pool has room again
        assert together is not None and together[0] != together[1]
    finally:
        await db.dispose()


async def test_a_pair_whose_kept_connection_was_dropped_still_answers_on_a_fresh_one(
    postgres_db: Database,
) -> None:
    reader, pair = await kept_pair(postgres_db)
    async with postgres_db.engine.connect() as admin:
        assert await admin.scalar(sa.text(f"SELECT pg_terminate_backend({pair[0]}, 10000)"))

    again = await reader.run_together(pid_of, pid_of)
    assert again is not None
    assert pair[0] not in again and pair[1] in again  # the dropped one replaced, the other kept
    assert reader.fresh_leases == 3
