"""Tenant isolation, swept over every MCP tool on SQLite and Postgres: tenant A's admin
names, filters for and searches for tenant B's objects through every tool; nothing of B
leaks, nothing of B changes, and every by-id probe is refused. (The Supabase path runs the
same sweep in tests/integration/security/test_isolation_supabase.py.)"""

from __future__ import annotations

from shared.crypto import CredentialCipher, generate_key
from shared.db.database import Database
from tests.unit.security.sweep import (
    RecordingPlatforms,
    admin_state,
    in_memory_clients,
    isolation_failures,
    sql_repositories,
)
from tests.unit.security.tool_cases import CASES
from tests.unit.security.two_tenants import build_two_tenants


async def test_no_tool_lets_tenant_a_read_or_change_tenant_b(any_db: Database) -> None:
    key = generate_key()
    world = await build_two_tenants(any_db, CredentialCipher(key))
    state = admin_state(any_db, sql_repositories(any_db), world.a.tenant_id, key)
    platforms = RecordingPlatforms()

    clients = in_memory_clients(state, platforms.access())

    failures, swept = await isolation_failures(clients, world, platforms)

    assert failures == [], "\n".join(failures)
    assert swept == set(CASES)  # every registered tool is still served, and was swept
