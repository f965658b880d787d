"""Each tenant's active workflow definitions, read once for many events.

Matching an event needs the tenant's active definitions. Read and parsed for every event,
they cost more than the rest of a one-step workflow; a worker busy with one tenant's burst
reads them once. The cached set is used for an event only when it cannot miss a change the
event's publisher could have seen:

- it was loaded after the event was published (a definition saved before an event was
  published is always the one that event runs; this compares the publisher's clock with
  the worker's, as the queue's schedules do);
- no definition was changed by this process since it was loaded (the API, the MCP tools
  and `serve`'s embedded worker share a process);
- it is younger than `max_age_s`, a bound on how long any other change can go unseen.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from orchestration.workflows.store import (
    StoredDefinition,
    changes_seen,
    load_active_definitions,
)
from shared.db.database import Database

__all__ = ["DefinitionCache"]


@dataclass(frozen=True)
class _Entry:
    definitions: list[StoredDefinition]
    loaded_at: float  # the clock when the read began
    changes: int  # changes_seen() when the read began


class DefinitionCache:
    def __init__(
        self, db: Database, *, max_age_s: float = 5.0, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = db
        self._max_age_s = max_age_s
        self._clock = clock
        self._entries: dict[uuid.UUID, _Entry] = {}
        self._locks: dict[uuid.UUID, asyncio.Lock] = {}

    async def active(self, tenant_id: uuid.UUID, published_at: datetime) -> list[StoredDefinition]:
        """The tenant's active definitions, as current as the event published at
        `published_at` needs them."""
        entry = self._entries.get(tenant_id)
        if entry is not None and self._serves(entry, published_at):
            return entry.definitions
        # One read at a time per tenant: the events waiting for it are served by its result.
        async with self._locks.setdefault(tenant_id, asyncio.Lock()):
            entry = self._entries.get(tenant_id)
            if entry is not None and self._serves(entry, published_at):
                return entry.definitions
            loaded_at, changes = self._clock(), changes_seen()
            async with self._db.engine.connect() as conn:
                definitions = await load_active_definitions(conn, tenant_id)
            self._entries[tenant_id] = _Entry(definitions, loaded_at, changes)
            return definitions

    def _serves(self, entry: _Entry, published_at: datetime) -> bool:
        now = self._clock()
        return (
            entry.changes == changes_seen()
            and entry.loaded_at >= published_at.timestamp()
            and now - entry.loaded_at < self._max_age_s
        )
