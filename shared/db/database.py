"""One handle on the store: the parsed target, its engine, and checks a command runs first."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Self

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from shared.db.engine import create_engine, describe_connection_error
from shared.db.migrate import ensure_current
from shared.db.url import DatabaseTarget, parse_database_url

__all__ = ["Database"]


@dataclass
class Database:
    target: DatabaseTarget
    engine: AsyncEngine

    @classmethod
    def from_url(cls, raw_url: str, **engine_kwargs: Any) -> Self:
        """Raises ConfigError for a malformed URL; connects lazily."""
        target = parse_database_url(raw_url)
        return cls(target, create_engine(target, **engine_kwargs))

    @property
    def dialect(self) -> str:
        return self.target.dialect

    async def check_reachable(self) -> None:
        """Raise DatabaseUnavailableError, with what to do, unless a connection works."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except (DBAPIError, OSError, TimeoutError) as exc:
            raise describe_connection_error(exc, self.target) from None

    async def check_ready(self) -> None:
        """Reachable and migrated to this code's schema, or a SwitchboardError saying why."""
        await self.check_reachable()
        await ensure_current(self.engine)

    @asynccontextmanager
    async def transaction(self) -> AsyncGenerator[AsyncConnection]:
        """A connection inside one transaction; SQLite takes the write lock up front.

        `BEGIN IMMEDIATE` avoids SQLite's deadlock-prone read-then-upgrade locking when two
        writers overlap; Postgres needs nothing special.
        """
        async with self.engine.connect() as conn:
            if self.target.is_sqlite:
                await conn.execution_options(sqlite_immediate=True)
            async with conn.begin():
                yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()
