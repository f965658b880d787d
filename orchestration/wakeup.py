"""Waking idle workers when work arrives: LISTEN/NOTIFY on Postgres, in-process otherwise.

Publishing on Postgres runs `pg_notify(NOTIFY_CHANNEL, '')` inside the publishing
transaction, so the notification is delivered at commit (never for a rolled-back outbox
write). A worker LISTENs on one pooled connection; when that connection drops, it falls
back to polling until the listener is back. On SQLite, publishers in the same process
(the `serve` process runs webhooks and the worker together) wake workers directly, and a
separate process relies on polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from orchestration.db_errors import CONNECTION_ERRORS
from shared.db.database import Database

__all__ = ["NOTIFY_CHANNEL", "Wakeup", "notify_local"]

NOTIFY_CHANNEL = "switchboard_events"

log = logging.getLogger(__name__)

_local_waiters: set[Wakeup] = set()


def notify_local() -> None:
    """Wake every worker of this process (called after an event is committed)."""
    for waiter in list(_local_waiters):
        waiter.wake()


class Wakeup:
    """A latch a worker waits on: set by NOTIFY, by a local publish, or by a timeout."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._event = asyncio.Event()
        self._conn: AsyncConnection | None = None
        self._listening = False
        self._stopping = False

    @property
    def listening(self) -> bool:
        """True while a Postgres LISTEN is active (polling alone is used otherwise)."""
        return self._listening

    def wake(self) -> None:
        self._event.set()

    async def start(self) -> None:
        _local_waiters.add(self)
        if not self._db.target.is_sqlite:
            await self._listen()

    async def _listen(self) -> None:
        try:
            self._conn = await self._db.engine.connect()
            raw = await self._conn.get_raw_connection()
            driver: Any = raw.driver_connection
            await driver.add_listener(NOTIFY_CHANNEL, self._on_notify)
            driver.add_termination_listener(self._on_terminated)
        except CONNECTION_ERRORS as exc:  # polling still works
            log.warning("LISTEN %s failed (%s); polling instead", NOTIFY_CHANNEL, exc)
            await self._close_conn()  # (a connection it got but could not listen on)
            return
        self._listening = True

    def _on_notify(self, *_args: object) -> None:
        self._event.set()

    def _on_terminated(self, *_args: object) -> None:
        if self._stopping:
            return
        log.warning("the LISTEN connection closed; polling until it is re-established")
        self._listening = False

    async def wait(self, timeout_s: float) -> bool:
        """Wait until woken or `timeout_s` passes; True when woken. Re-listens if dropped."""
        if not self._db.target.is_sqlite and not self._listening:
            await self._close_conn()
            await self._listen()
        try:
            await asyncio.wait_for(self._event.wait(), timeout=max(timeout_s, 0))
        except TimeoutError:
            return False
        finally:
            self._event.clear()
        return True

    async def _close_conn(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(*CONNECTION_ERRORS):
                await conn.invalidate()
                await conn.close()

    async def stop(self) -> None:
        _local_waiters.discard(self)
        self._listening = False
        self._stopping = True  # the connection closing now is expected, not worth a warning
        await self._close_conn()
