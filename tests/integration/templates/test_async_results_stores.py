"""Reading platform runs back works the same on SQLite and Postgres: the poller's query, and
the guarded update that lets only the first of poller and callback finish an execution."""

from __future__ import annotations

import pytest

from orchestration.executions import ExecutionRecord, list_executions
from orchestration.platforms.async_results import apply_callback, poll_platform_runs
from orchestration.platforms.resilience import ResilienceRegistry
from orchestration.templates.install import record_platform_refs
from orchestration.workflows.store import save_definition
from shared.crypto import generate_key
from shared.db.database import Database
from tests.fakes.make import MakeFake
from tests.unit.orchestration.platforms.test_async_results import (
    MAKE_TOKEN,
    World,
    routed_yaml,
    world,
)


@pytest.fixture(params=["sqlite_db", "postgres_db"])
def store(request: pytest.FixtureRequest) -> Database:
    db: Database = request.getfixturevalue(request.param)
    return db


async def test_poller_and_callback_finish_a_make_run_once_on_either_store(store: Database) -> None:
    fake = MakeFake(token=MAKE_TOKEN, polls_until_done=0)
    fake.add_scenario(8, "Slow sync", duration=95, outputs={"synced": 3})
    async with world(
        store, generate_key(), ResilienceRegistry(), fake.app(), "make",
        "http://eu1.make.test/api/v2", {"api_token": MAKE_TOKEN},
    ) as w:  # fmt: skip
        saved = await save_definition(w.db, w.tenant_id, routed_yaml("make"))
        await record_platform_refs(w.db, saved.stored.id, "make", {"scenario_id": 8})
        for _ in range(2):
            await w.emit()
        await w.drain()
        first, second = await w_executions(w)
        assert {first.status, second.status} == {"running"}

        # The callback finishes one; the poller then finishes only the other.
        assert await apply_callback(
            w.db, w.tenant_id, "make", {"execution_id": str(first.id), "status": "success"}
        )
        report = await poll_platform_runs(w.db, w.runtime.tools.for_tenant)
        assert (report.checked, report.completed) == (1, 1)
        # A repeat of the callback changes nothing.
        assert not await apply_callback(
            w.db, w.tenant_id, "make", {"execution_id": str(first.id), "status": "error"}
        )
        done = {e.id: e for e in await w_executions(w)}
    assert done[first.id].status == "completed"
    assert (done[first.id].execution_result or {})["completed_by"] == "callback"
    assert (done[second.id].execution_result or {})["output"] == {
        "make_status": "SUCCESS", "synced": 3,
    }  # fmt: skip


async def w_executions(w: World) -> list[ExecutionRecord]:
    return sorted(await list_executions(w.db, w.tenant_id), key=lambda e: str(e.id))
