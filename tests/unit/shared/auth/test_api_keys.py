from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from shared.auth.api_keys import create_api_key, list_api_keys, revoke_api_key, verify_api_key
from shared.auth.principal import Role
from shared.db.database import Database
from shared.db.schema import api_keys
from shared.errors import NotFoundError
from shared.tenants import create_tenant


async def test_issued_key_verifies_to_its_tenant_and_role(sqlite_db: Database) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    issued = await create_api_key(sqlite_db, tenant.id, Role.OPERATOR, "ops laptop")
    principal = await verify_api_key(sqlite_db, issued.token)
    assert principal is not None
    assert principal.tenant_id == tenant.id
    assert principal.role is Role.OPERATOR
    assert principal.subject == f"key:{issued.key_id}"


async def test_only_a_hash_of_the_secret_is_stored(sqlite_db: Database) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    issued = await create_api_key(sqlite_db, tenant.id, Role.VIEWER)
    secret = issued.token.split("_", 2)[2]
    async with sqlite_db.engine.connect() as conn:
        stored = (await conn.execute(sa.select(api_keys.c.secret_hash))).scalar_one()
    assert secret not in stored
    assert len(stored) == 64


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # wrong secret
        lambda t: "sbk_ffffffffffff_" + t.split("_", 2)[2],  # unknown key id
        lambda t: t.replace("sbk_", "xyz_"),  # not our format
        lambda t: "",
    ],
)
async def test_wrong_or_malformed_keys_are_refused(
    sqlite_db: Database, mangle: Callable[[str], str]
) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    issued = await create_api_key(sqlite_db, tenant.id, Role.ADMIN)
    assert await verify_api_key(sqlite_db, mangle(issued.token)) is None


async def test_revoked_key_stops_working_at_once(sqlite_db: Database) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    issued = await create_api_key(sqlite_db, tenant.id, Role.VIEWER)
    await revoke_api_key(sqlite_db, issued.key_id)
    assert await verify_api_key(sqlite_db, issued.token) is None
    [info] = await list_api_keys(sqlite_db, tenant.id)
    assert info.revoked_at is not None
    with pytest.raises(NotFoundError, match="keys list"):
        await revoke_api_key(sqlite_db, issued.key_id)


def test_roles_are_ordered() -> None:
    assert Role.ADMIN.allows(Role.OPERATOR)
    assert Role.OPERATOR.allows(Role.VIEWER)
    assert not Role.VIEWER.allows(Role.OPERATOR)
    assert not Role.OPERATOR.allows(Role.ADMIN)
