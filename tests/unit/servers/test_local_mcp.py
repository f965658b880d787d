"""Workflow steps call our own CRM server in-process, as the tenant's worker operator."""

from __future__ import annotations

import json
import uuid
from contextlib import AsyncExitStack

import sqlalchemy as sa

from orchestration.runtime.mcp_caller import RegisteredMcpCaller
from servers.cli.local_mcp import local_mcp_servers
from shared.config import Settings
from shared.db.crm_tables import accounts
from shared.db.database import Database
from shared.db.orchestration_tables import mcp_servers
from shared.tenants import create_tenant


async def test_a_step_reaches_the_crm_server_in_process_for_its_own_tenant(
    sqlite_db: Database,
) -> None:
    ours, other = await create_tenant(sqlite_db, "acme"), await create_tenant(sqlite_db, "rival")
    async with sqlite_db.transaction() as conn:
        for tenant, name in ((ours, "Bright Smiles Dental"), (other, "Rival Dental")):
            await conn.execute(
                sa.insert(accounts).values(
                    id=uuid.uuid4(), tenant_id=tenant.id, name=name, industry="dentist"
                )
            )
        await conn.execute(
            sa.insert(mcp_servers).values(
                id=uuid.uuid4(),
                tenant_id=ours.id,
                server_name="crm",
                server_type="switchboard",
                access_permissions={"allowed_tools": ["search_prospects"]},
            )
        )
    settings = Settings(database_url="sqlite://")
    async with AsyncExitStack() as stack:
        caller = RegisteredMcpCaller(
            sqlite_db, local_servers=local_mcp_servers(settings, sqlite_db, stack)
        )
        # `context` is what every call_mcp_server step adds; the CRM tool does not take it.
        arguments = {"industry": "dentist", "context": {"event": {}}}
        found = await caller.call_tool(
            ours.id, "crm", "search_prospects", arguments, idempotency_key="k"
        )
    text = json.dumps(found)
    assert "Bright Smiles Dental" in text
    assert "Rival Dental" not in text  # the caller is bound to the event's tenant
