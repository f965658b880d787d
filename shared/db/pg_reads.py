"""Small Postgres statements run on asyncpg directly, on connections leased from the engine's
pool: the CRM's hot reads, and the worker's execution journal writes (which open their own
transaction when a batch holds several statements). `run_together` runs two reads at once
on two leases, so their server time overlaps (a search's page and its count).

A hot read (`get_account`, a search page) is one statement. Through SQLAlchemy it also paid
a pool checkout with its liveness ping (a round trip: `shared.db.engine`), an execution
context and a cursor result: more CPU than the statement's own round trip. So the reader
keeps a few connections checked out of the Database's pool (leases: same URL, same
connect arguments and type codecs as every other connection) and runs a read's prepared
statement on the asyncpg connection itself (asyncpg prepares each text once per
connection). No transaction is opened: one statement sees one snapshot.

A leased connection is not pinged before each use. If the server dropped it meanwhile (a
restart, an idle timeout), the read fails on it (`_DROPPED`) and, being only a read, runs
once more on a fresh connection from the pool, which the pool pings: what the ping did. A
read that fails any other way, or is cancelled (maybe mid-statement), closes its
connection. The leases end with the engine (`Engine.dispose`) or when the reader is dropped.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import asyncpg  # pyright: ignore[reportMissingTypeStubs]
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import PoolProxiedConnection, QueuePool
from sqlalchemy.util import greenlet_spawn

from shared.db.database import Database
from shared.db.engine import describe_connection_error
from shared.db.url import DatabaseTarget

__all__ = ["IDLE_LEASES", "PostgresReader", "postgres_reader"]

_T = TypeVar("_T")
_A = TypeVar("_A")
_B = TypeVar("_B")

# Connections kept between reads. Each is one fewer in the engine's pool for everything
# else, so at most a quarter of the pool's size (none for a pool of 3 or fewer, or one that
# keeps nothing); concurrent reads beyond this take more, and give the extra ones back.
IDLE_LEASES = 2

# What a read on a connection the server (or the network) has closed raises. Which one
# depends on how far asyncpg got in noticing: closed, or still reading the server's "terminating
# connection" message when the next statement is sent (an internal protocol state error).
_DROPPED: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.IdleSessionTimeoutError,
    OSError,
)

# What making a connection raises when the server cannot be reached or refuses us.
_UNREACHABLE = (DBAPIError, OSError, TimeoutError, asyncpg.exceptions.PostgresError)

Read = Callable[[Any], Awaitable[_T]]  # given the asyncpg connection


class PostgresReader:
    def __init__(self, engine: AsyncEngine, target: DatabaseTarget) -> None:
        self._engine = engine.sync_engine  # not the AsyncEngine: it keys the readers weakly
        self._target = target
        self._idle: list[PoolProxiedConnection] = []
        pool = engine.sync_engine.pool
        self._keep = min(IDLE_LEASES, pool.size() // 4) if isinstance(pool, QueuePool) else 0
        self.fresh_leases = 0  # connections taken from the pool (tests read this)
        self.retried = 0  # reads run again after a dropped connection (tests read this)
        event.listen(engine.sync_engine, "engine_disposed", self._on_dispose)

    async def run(self, read: Read[_T]) -> _T:
        """`read(asyncpg connection)`'s result; raises what it raises, but
        DatabaseUnavailableError (what to check) when no connection to the server works."""
        return await self._run(read, None)

    async def run_together(self, first: Read[_A], second: Read[_B]) -> tuple[_A, _B] | None:
        """Both reads at the same time, each on its own connection, so that their time on
        the server overlaps (a search's page and its count); each as `run` would. None,
        having run neither, unless this reader keeps two leases and one is idle now: the
        caller then runs them as one statement.

        It never holds a connection while it waits for another. The second lease, if it
        must come from the pool, is taken first while the idle one stays free for any
        read; so concurrent searches cannot each hold one connection and wait on a pool
        they have emptied. (A read whose kept connection the server dropped runs again on a
        fresh one, as `run` does, while the other read may still hold its own.)"""
        if self._keep < 2 or not self._idle:
            return None
        if len(self._idle) == 1:
            self._idle.append(await self._fresh_lease())
        if len(self._idle) < 2:
            return None  # another read took the idle one meanwhile
        one, other = await asyncio.gather(
            self._run(first, self._idle.pop()),
            self._run(second, self._idle.pop()),
            return_exceptions=True,  # each ends (or keeps) its own lease before this raises
        )
        for outcome in (one, other):
            if isinstance(outcome, BaseException):
                raise outcome
        return cast("_A", one), cast("_B", other)

    async def _run(self, read: Read[_T], taken: PoolProxiedConnection | None) -> _T:
        """`run`, trying first `taken`: an idle lease already popped for this read."""
        while taken is not None or self._idle:
            lease = taken if taken is not None else self._idle.pop()
            taken = None
            if _driver(lease).is_closed():
                await _end(lease, invalidate=True)
                continue
            try:
                result = await read(_driver(lease))
            except _DROPPED:
                await _end(lease, invalidate=True)
                self.retried += 1
                break  # to a fresh connection: the other leases idled as long as this one
            except BaseException:
                await _end(lease, invalidate=True)  # (a cancelled read: mid-statement)
                raise
            await self._give_back(lease)
            return result
        lease = await self._fresh_lease()
        try:
            result = await read(_driver(lease))
        except _DROPPED as exc:  # a connection just made and pinged: the server is going away
            await _end(lease, invalidate=True)
            raise describe_connection_error(exc, self._target) from exc
        except BaseException:
            await _end(lease, invalidate=True)
            raise
        await self._give_back(lease)
        return result

    async def _fresh_lease(self) -> PoolProxiedConnection:
        try:
            lease = await greenlet_spawn(self._engine.raw_connection)  # the pool pings it
        except _UNREACHABLE as exc:
            raise describe_connection_error(exc, self._target) from exc
        self.fresh_leases += 1
        return lease

    async def _give_back(self, lease: PoolProxiedConnection) -> None:
        if len(self._idle) < self._keep:
            self._idle.append(lease)
        else:
            await _end(lease)

    def _on_dispose(self, _engine: Engine) -> None:
        # Runs inside AsyncEngine.dispose(), in its greenlet: each lease closes gracefully.
        self.close()

    def close(self) -> None:
        """Close every idle lease's connection (outside a greenlet: terminated, no await)."""
        idle, self._idle = self._idle, []
        for lease in idle:
            lease.invalidate()
            lease.close()


def _driver(lease: PoolProxiedConnection) -> Any:
    """The asyncpg connection of a lease."""
    return lease.driver_connection


async def _end(lease: PoolProxiedConnection, *, invalidate: bool = False) -> None:
    """Give a lease back to the pool; `invalidate`: close its connection first."""

    def end() -> None:
        if invalidate:
            lease.invalidate()
        lease.close()

    await greenlet_spawn(end)


_readers: weakref.WeakKeyDictionary[AsyncEngine, PostgresReader] = weakref.WeakKeyDictionary()


def postgres_reader(db: Database) -> PostgresReader:
    """The reader of `db`'s engine: one per engine, made on first use."""
    engine = db.engine
    reader = _readers.get(engine)
    if reader is None:
        reader = _readers[engine] = PostgresReader(engine, db.target)
        # An engine dropped without dispose(). Not at interpreter exit: the event loop is
        # closed by then (nothing could close a connection) and the process's end closes them.
        weakref.finalize(engine, reader.close).atexit = False
    return reader
