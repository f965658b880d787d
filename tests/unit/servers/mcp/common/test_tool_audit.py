"""Every tool call leaves exactly one audit row: reads through the buffered writer (off the
request path), state-changing calls written before their result returns."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from mcp import Client

from servers.mcp.common.caller import Role
from servers.mcp.common.state import AppState
from servers.mcp.crm import build_crm_server
from shared.audit import AuditConfig, AuditWriter, argument_digest
from shared.db.schema import audit_log
from tests.unit.servers.mcp.crm_world import CrmWorld


async def _rows(world: CrmWorld) -> list[dict[str, Any]]:
    async with world.database.engine.connect() as conn:
        query = sa.select(audit_log).order_by(audit_log.c.occurred_at)
        return [dict(row) for row in (await conn.execute(query)).mappings()]


def _buffering(state: AppState) -> AppState:
    state.audit = AuditWriter(state.database, AuditConfig(flush_interval_s=60))
    return state


async def test_a_read_call_is_audited_off_the_request_path_once(world: CrmWorld) -> None:
    state = _buffering(world.state(role=Role.VIEWER))
    arguments = {"account_id": str(world.smile_id)}
    async with state.audit.running(), Client(build_crm_server(state=state)) as client:
        result = await client.call_tool("get_account", arguments)
        assert not result.is_error
        assert await _rows(world) == []  # the call returned before its row was written
        await state.audit.flush()
        [row] = await _rows(world)
        await state.audit.flush()
        assert len(await _rows(world)) == 1
    assert (row["action"], row["outcome"], row["actor_role"]) == (
        "tool:get_account",
        "ok",
        "viewer",
    )
    assert row["tenant_id"] == world.tenant_id
    assert row["argument_digest"] == argument_digest(arguments)


async def test_a_write_call_is_audited_before_its_result_returns(world: CrmWorld) -> None:
    state = _buffering(world.state(role=Role.OPERATOR))
    async with state.audit.running(), Client(build_crm_server(state=state)) as client:
        result = await client.call_tool(
            "update_lifecycle_stage", {"account_id": str(world.smile_id), "stage": "qualified"}
        )
        assert not result.is_error
        rows = await _rows(world)  # no flush: the write's row is already there
        assert state.audit.pending == 0
    assert [(r["action"], r["outcome"]) for r in rows] == [("tool:update_lifecycle_stage", "ok")]


async def test_refused_and_failed_calls_are_audited_with_their_outcome(world: CrmWorld) -> None:
    state = _buffering(world.state(role=Role.VIEWER))
    async with state.audit.running(), Client(build_crm_server(state=state)) as client:
        refused = await client.call_tool(
            "update_lifecycle_stage", {"account_id": str(world.smile_id), "stage": "qualified"}
        )
        missing = await client.call_tool("get_account", {"account_id": str(world.foreign_id)})
        await state.audit.flush()
    assert refused.is_error and missing.is_error
    assert [(r["action"], r["outcome"]) for r in await _rows(world)] == [
        ("tool:update_lifecycle_stage", "denied"),
        ("tool:get_account", "error"),
    ]


async def test_rows_still_buffered_when_the_writer_stops_are_written(world: CrmWorld) -> None:
    state = _buffering(world.state())
    async with state.audit.running(), Client(build_crm_server(state=state)) as client:
        for _ in range(3):
            await client.call_tool("search_prospects", {"limit": 1})
    assert [r["action"] for r in await _rows(world)] == ["tool:search_prospects"] * 3
