"""The small CRM of the MCP tests (tests/unit/servers/mcp/crm_world.py) on its own SQLite
file, served by an event loop in a background thread: synchronous hypothesis tests call into
it through the portal, so one store serves every example of a module."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from anyio.from_thread import BlockingPortal, start_blocking_portal

from shared.db.database import Database
from tests.unit.servers.mcp.crm_world import CrmWorld, build_world

__all__ = ["ThreadedWorld", "world_at", "world_in_thread"]


@dataclass
class ThreadedWorld:
    portal: BlockingPortal
    database: Database
    world: CrmWorld


async def _open(url: str) -> tuple[Database, CrmWorld]:
    database = Database.from_url(url)
    return database, await build_world(database)


@contextmanager
def world_at(url: str) -> Iterator[ThreadedWorld]:
    """The world in the migrated, empty store at `url` (SQLite or Postgres)."""
    with start_blocking_portal(backend="asyncio") as portal:
        database, world = portal.call(_open, url)
        try:
            yield ThreadedWorld(portal, database, world)
        finally:
            portal.call(database.dispose)


@contextmanager
def world_in_thread(template: Path, directory: Path) -> Iterator[ThreadedWorld]:
    """The world in a copy of a migrated SQLite template."""
    path = directory / "store.sqlite3"
    shutil.copyfile(template, path)
    with world_at(f"sqlite:///{path}") as threaded:
        yield threaded
