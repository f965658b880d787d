"""The recorded rows and outcomes (test_execution_rows) again, with every step prepared the
general way (rendered, checked and given a built scope on every run): what a RunPlan works
out once per step changes nothing the worker writes or answers."""

from __future__ import annotations

import httpx
import pytest

from orchestration.workflows.actions import ACTIONS
from orchestration.workflows.definition import StepSpec
from orchestration.workflows.run_plan import PlannedStep
from shared.db.database import Database
from shared.tenants import create_tenant
from tests.integration.workflows import test_execution_rows as recorded


def _general(cls: type[PlannedStep], step: StepSpec) -> PlannedStep:
    return cls(step, ACTIONS.get(step.action), True, None, True)


async def test_the_general_step_path_writes_the_recorded_rows(
    sqlite_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(PlannedStep, "of", classmethod(_general))
    tenant_id = (await create_tenant(sqlite_db, "general-path")).id
    async with httpx.AsyncClient() as client:
        rows, outcomes = await recorded._scenarios(  # pyright: ignore[reportPrivateUsage]
            sqlite_db, client, tenant_id, sqlalchemy_path=True
        )
    assert outcomes == recorded.OUTCOMES
    assert rows == recorded.ROWS
