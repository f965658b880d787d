"""Read-only mode and the viewer role hide every write tool and refuse it if called anyway."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.server.context import ServerRequestContext

from servers.mcp.common.caller import CallerContext, Role
from servers.mcp.common.roles import ToolAccess, is_allowed
from servers.mcp.crm import build_crm_server
from tests.unit.servers.mcp.crm_world import CrmWorld

WRITES = {"update_lifecycle_stage", "log_activity", "create_campaign", "record_lead_qualification"}


def _stage_args(world: CrmWorld) -> dict[str, Any]:
    return {"account_id": str(world.smile_id), "stage": "churned"}


@pytest.mark.parametrize(
    ("role", "read_only", "expected"),
    [
        (Role.VIEWER, False, "needs the operator role"),
        (Role.OPERATOR, True, "read-only"),
        (Role.ADMIN, True, "read-only"),
    ],
)
async def test_writes_are_hidden_and_refused(
    world: CrmWorld, role: Role, read_only: bool, expected: str
) -> None:
    async with Client(build_crm_server(state=world.state(role=role, read_only=read_only))) as c:
        names = {t.name for t in (await c.list_tools()).tools}
        refused = await c.call_tool("update_lifecycle_stage", _stage_args(world))
        reads = await c.call_tool("search_prospects", {})
    assert names.isdisjoint(WRITES)
    assert "search_prospects" in names
    assert refused.is_error and expected in refused.content[0].text  # type: ignore[union-attr]
    assert not reads.is_error
    # nothing changed
    async with Client(build_crm_server(state=world.state())) as client:
        account = (
            await client.call_tool("get_account", {"account_id": str(world.smile_id)})
        ).structured_content
    assert account is not None and account["lifecycle_stage"] == "lead"


async def test_operator_sees_and_may_call_writes(world: CrmWorld) -> None:
    async with Client(build_crm_server(state=world.state(role=Role.OPERATOR))) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("update_lifecycle_stage", _stage_args(world))
    assert names >= WRITES
    assert not result.is_error


async def test_a_resolver_decides_the_caller_per_request(world: CrmWorld) -> None:
    """The HTTP app plugs in a token-based resolver; here one that flips between requests."""
    roles = iter([Role.VIEWER, Role.ADMIN])

    async def resolver(request: ServerRequestContext[Any, Any]) -> CallerContext:
        return CallerContext(tenant_id=world.tenant_id, role=next(roles))

    async with Client(build_crm_server(state=world.state(resolver=resolver))) as client:
        as_viewer = {t.name for t in (await client.list_tools()).tools}
        as_admin = {t.name for t in (await client.list_tools()).tools}
    assert as_viewer.isdisjoint(WRITES) and as_admin >= WRITES


def test_access_rules() -> None:
    import uuid

    viewer = CallerContext(uuid.uuid4(), Role.VIEWER)
    admin_ro = CallerContext(uuid.uuid4(), Role.ADMIN, read_only=True)
    assert is_allowed(viewer, ToolAccess.READ) and not is_allowed(viewer, ToolAccess.WRITE)
    assert is_allowed(admin_ro, ToolAccess.READ)
    assert not is_allowed(admin_ro, ToolAccess.WRITE)
    assert not is_allowed(admin_ro, ToolAccess.ADMIN)
