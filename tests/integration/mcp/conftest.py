"""A seeded SQLite store on disk, for servers started as subprocesses."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.db.database import Database
from shared.db.migrate import upgrade
from tests.unit.servers.mcp.crm_world import CrmWorld, build_world

REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass
class SeededStore:
    url: str
    world: CrmWorld

    def env(self, **extra: str) -> dict[str, str]:
        """The subprocess environment: this store, tenant 'acme', nothing from the host's
        SWITCHBOARD_* settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        env |= {
            "SWITCHBOARD_DATABASE_URL": self.url,
            "SWITCHBOARD_TENANT": "acme",
            "PYTHONPATH": str(REPO_ROOT),
            **extra,
        }
        return env


@pytest.fixture
async def seeded_store(tmp_path: Path) -> SeededStore:
    url = f"sqlite:///{tmp_path / 'stdio.sqlite3'}"
    db = Database.from_url(url)
    await upgrade(db.engine)
    world = await build_world(db)
    await db.dispose()
    return SeededStore(url=url, world=world)
