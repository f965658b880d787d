"""`switchboard tools reconcile`: runs the ClickUp reconciliation and stores its accuracy."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import stamina

from orchestration.platforms.mappings import ExternalMapping, SqlMappingStore
from shared.crypto import generate_key
from shared.db.crm_tables import accounts
from shared.db.database import Database
from shared.db.orchestration_tables import sync_reconciliations
from shared.tenants import resolve_tenant
from tests.fakes.clickup import ClickUpFake
from tests.fakes.server import serve_in_thread
from tests.unit.servers.test_cli_foundation import switchboard

TOKEN = "pk_12345_SECRETTOKENVALUE"


@pytest.fixture(autouse=True)
def _instant_retries() -> Iterator[None]:
    with stamina.set_testing(True, attempts=1):
        yield


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = {
        "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "SWITCHBOARD_SECRET_KEY": generate_key(),
    }
    assert switchboard("db", "upgrade", env=values).returncode == 0
    assert switchboard("tenants", "create", "demo", env=values).returncode == 0
    return values


def _in_db(env: dict[str, str], work: Any) -> Any:
    async def main() -> Any:
        db = Database.from_url(env["SWITCHBOARD_DATABASE_URL"])
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


def test_reconcile_makes_a_lost_task_again_and_stores_each_run(env: dict[str, str]) -> None:
    fake = ClickUpFake(token=TOKEN)
    fake.add_list("L1", "Qualified Prospects")

    async def seed(db: Database) -> None:
        tenant = await resolve_tenant(db, "demo")
        account_id = uuid.uuid4()
        async with db.transaction() as conn:
            await conn.execute(
                sa.insert(accounts).values(id=account_id, tenant_id=tenant.id, name="Smile")
            )
        # Synced once, then the task was deleted in ClickUp.
        await SqlMappingStore(db).put(
            ExternalMapping(tenant.id, "clickup", "accounts", str(account_id), "gone-1")
        )

    _in_db(env, seed)
    with serve_in_thread(fake.app()) as base:
        configured = switchboard(
            "tools", "configure", "clickup",
            "--endpoint", f"{base}/api/v2",
            "--credential", f"api_token={TOKEN}",
            "--setting", 'lists={"qualified_prospects": "L1"}',
            "--setting", "reminder_days=null",
            env=env,
        )  # fmt: skip
        assert configured.returncode == 0, configured.stderr
        first = switchboard("tools", "reconcile", "--json", env=env)
        second = switchboard("tools", "reconcile", env=env)

    assert first.returncode == 0, first.stderr
    figures = json.loads(first.stdout)
    assert (figures["records"], figures["resynced"], figures["drifted"]) == (1, 1, 1)
    assert len(fake.tasks) == 1  # made again, once
    assert second.returncode == 0, second.stderr
    assert "1 account(s)" in second.stdout and "sync accuracy 100.0%" in second.stdout
    assert TOKEN not in first.stdout + first.stderr + second.stdout + second.stderr

    async def stored(db: Database) -> list[float]:
        async with db.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(sync_reconciliations.c.accuracy_pct).order_by(
                    sync_reconciliations.c.finished_at
                )
            )
            return [r[0] for r in rows]

    assert _in_db(env, stored) == [0.0, 100.0]


def test_reconcile_without_clickup_says_how_to_configure_it(env: dict[str, str]) -> None:
    result = switchboard("tools", "reconcile", env=env)
    assert result.returncode == 1
    assert "switchboard tools configure clickup" in result.stderr
    assert "Traceback" not in result.stderr
