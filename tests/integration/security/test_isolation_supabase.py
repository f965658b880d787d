"""The isolation sweep on the Supabase path: the CRM is read and written through PostgREST
with tenant A's own JWT (row-level security applies), orchestration state lives in the same
Postgres. Every tool of the three servers, every probe of tests/unit/security/tool_cases.py."""

from __future__ import annotations

import uuid

import pytest

from orchestration.events.crm_sink import CrmEventSink
from shared.crm.repository import CrmRepository
from shared.crypto import CredentialCipher, generate_key
from tests.integration.supabase.backend import supabase_repositories
from tests.unit.security.sweep import (
    RecordingPlatforms,
    admin_state,
    in_memory_clients,
    isolation_failures,
)
from tests.unit.security.tool_cases import CASES
from tests.unit.security.two_tenants import build_two_tenants

pytestmark = pytest.mark.postgrest


async def test_no_tool_lets_tenant_a_read_or_change_tenant_b_through_postgrest() -> None:
    key = generate_key()
    async with supabase_repositories() as (database, make_repository):
        world = await build_two_tenants(database, CredentialCipher(key))

        async def repositories(tenant_id: uuid.UUID) -> CrmRepository:
            return await make_repository(tenant_id, CrmEventSink(database, tenant_id))

        state = admin_state(database, repositories, world.a.tenant_id, key)
        platforms = RecordingPlatforms()
        clients = in_memory_clients(state, platforms.access())
        failures, swept = await isolation_failures(clients, world, platforms)

    assert failures == [], "\n".join(failures)
    assert swept == set(CASES)
