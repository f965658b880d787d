"""A migrated SQLite template for the fuzz suites (built once per session, copied per use)
and the three MCP servers on a copy of it, shared by the MCP fuzz modules."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.db.database import Database
from shared.db.migrate import upgrade
from tests.unit.fuzz.mcp_harness import McpHarness, serve_mcp


@pytest.fixture(scope="session")
def fuzz_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fuzz-template") / "template.sqlite3"

    async def migrate() -> None:
        db = Database.from_url(f"sqlite:///{path}")
        await upgrade(db.engine)
        await db.dispose()

    asyncio.run(migrate())
    return path


@pytest.fixture(scope="package")
def mcp(fuzz_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[McpHarness]:
    with serve_mcp(fuzz_template, tmp_path_factory.mktemp("fuzz-mcp")) as harness:
        yield harness
