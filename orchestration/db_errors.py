"""What a database call of a long-running process (a worker's claim, acknowledgement,
heartbeat or LISTEN) can fail with and be tried again: errors through SQLAlchemy, and those
asyncpg raises itself on the queue's fast paths, which run on its connection directly (a
lost connection, a deadlock the server broke, a statement cancelled by a timeout, or a
statement sent on a connection the server is closing while asyncpg still reads its
goodbye: an internal protocol state error, seen in the chaos test's connection cuts)."""

from __future__ import annotations

import asyncpg  # pyright: ignore[reportMissingTypeStubs]
from sqlalchemy.exc import DBAPIError

__all__ = ["CONNECTION_ERRORS"]

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    DBAPIError,
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)
