"""Creating the async engine for a database target, with SQLite set up for concurrent use."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pydantic_core
import sqlalchemy as sa
from sqlalchemy import Connection, event
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util.concurrency import await_

from shared.db.url import DatabaseTarget, parse_database_url
from shared.errors import DatabaseUnavailableError

__all__ = [
    "begin_sqlite",
    "configure_sqlite_connection",
    "create_engine",
    "describe_connection_error",
    "engine_for_url",
    "sqlite_thread_engine",
]

SQLITE_BUSY_TIMEOUT_MS = 10_000


def _to_json(value: Any) -> str:
    # JSON columns through pydantic-core's serializer rather than json.dumps: several times
    # faster, and the worker writes a JSON step_state with every checkpoint. It also writes
    # datetimes, UUIDs and Decimals (as strings) where json.dumps would raise.
    return pydantic_core.to_json(value).decode()


def _from_json(text: str | bytes) -> Any:
    return pydantic_core.from_json(text)


_JSON_CODECS = {"json_serializer": _to_json, "json_deserializer": _from_json}


def configure_sqlite_connection(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers run beside the single writer; foreign keys are off by default in SQLite.
    # The driver's own implicit BEGIN is turned off so `begin_sqlite` decides how to begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def begin_sqlite(conn: Connection) -> None:
    # A writer asks for BEGIN IMMEDIATE (execution option `sqlite_immediate=True`): taking the
    # write lock up front avoids SQLite's read-then-upgrade deadlock between two writers.
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def sqlite_thread_engine(path: Path, **engine_kwargs: Any) -> sa.Engine:
    """A synchronous engine on a SQLite file for batches written one at a time from worker
    threads (one connection, usable from any thread), with the connection settings and the
    write lock (BEGIN IMMEDIATE on request) the async engine has."""
    engine = sa.create_engine(
        f"sqlite:///{path}",
        pool_size=1,
        max_overflow=0,
        connect_args={"check_same_thread": False},
        **engine_kwargs,
    )
    event.listen(engine, "connect", configure_sqlite_connection)
    event.listen(engine, "begin", begin_sqlite)
    return engine


def create_engine(target: DatabaseTarget, **engine_kwargs: Any) -> AsyncEngine:
    """An AsyncEngine for `target`. Creates the SQLite file's folder if it is missing."""
    if target.is_sqlite:
        assert target.sqlite_path is not None
        target.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(target.async_url, **{**_JSON_CODECS, **engine_kwargs})
        event.listen(engine.sync_engine, "connect", configure_sqlite_connection)
        event.listen(engine.sync_engine, "begin", begin_sqlite)
        return engine
    engine_kwargs.setdefault("pool_size", 10)
    engine_kwargs.setdefault("connect_args", {"timeout": 10})
    engine = create_async_engine(target.async_url, **{**_JSON_CODECS, **engine_kwargs})
    if not engine_kwargs.get("pool_pre_ping"):
        event.listen(engine.sync_engine, "checkout", _ping_postgres)
    return engine


def _ping_postgres(dbapi_connection: Any, _record: ConnectionPoolEntry, _proxy: Any) -> None:
    """Pessimistic disconnect handling in one round trip (the checkout-event recipe of
    SQLAlchemy's pooling docs): a connection the server dropped (a restart, a failover, an
    idle timeout) is replaced before anyone uses it. `pool_pre_ping` does the same, but the
    asyncpg dialect wraps its ping in BEGIN and ROLLBACK (for pgbouncer's transaction mode),
    three round trips on every checkout of every statement's connection."""
    try:
        await_(dbapi_connection._connection.fetchrow(";"))
    except Exception as exc:
        raise DisconnectionError() from exc


def engine_for_url(raw_url: str, **engine_kwargs: Any) -> AsyncEngine:
    return create_engine(parse_database_url(raw_url), **engine_kwargs)


# Postgres refusing a connection for now: starting up or shutting down (57P03), shut down
# by an administrator (57P01), out of connection slots (53300), or not accepting
# connections to this database at the moment (55000: ALLOW_CONNECTIONS false).
_TRANSIENT_SQLSTATES = frozenset({"57P03", "57P01", "53300", "55000"})


def describe_connection_error(
    exc: BaseException, target: DatabaseTarget
) -> DatabaseUnavailableError:
    """Turn a driver's connection failure into one line a user can act on (no secrets)."""
    where = (
        f"SQLite file {target.sqlite_path}"
        if target.is_sqlite
        else f"Postgres at {target.async_url.host}:{target.async_url.port or 5432}"
        f"/{target.async_url.database}"
    )
    root: BaseException = exc
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        root = exc.orig
    text = str(root).splitlines()[0] if str(root) else type(root).__name__
    name = type(root).__name__
    if "password authentication failed" in text or name == "InvalidPasswordError":
        reason = "the user name or password was refused"
    elif isinstance(root, ConnectionRefusedError | socket.gaierror) or "refused" in text.lower():
        reason = "nothing is listening there (is the server running?)"
    elif isinstance(root, TimeoutError):
        reason = "the connection timed out"
    elif "does not exist" in text or isinstance(exc, OperationalError | InterfaceError | OSError):
        reason = text
    else:
        reason = f"{name}: {text}"
    transient = isinstance(root, OSError | TimeoutError) or (
        getattr(root, "sqlstate", None) in _TRANSIENT_SQLSTATES
    )
    return DatabaseUnavailableError(
        f"cannot connect to {where}: {reason}; check SWITCHBOARD_DATABASE_URL",
        transient=transient,
    )
