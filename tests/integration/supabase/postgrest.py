"""The local "Supabase" the supabase tests run against: PostgREST 12 on database
`switchboard_rest`, its schema migrated by us, and API keys minted like Supabase's.

PostgREST is bound to one database, so tests cannot clone a fresh one per test as the
Postgres tests do. Instead the schema is rebuilt only when the migrations changed (a digest
of `switchboard db sql` is kept as the schema's comment), under an advisory lock so two
test sessions never rebuild it at once, and every test makes its own tenants.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

import anyio
import httpx
import jwt
import sqlalchemy as sa

from shared.db.database import Database
from shared.db.migrate import postgres_ddl, upgrade
from tests.services import JWT_SECRET, POSTGREST_URL, REST_DATABASE_URL, require

__all__ = [
    "anon_key",
    "create_rest_tenant",
    "mint_key",
    "prepare_rest_schema",
    "rest_database",
    "service_role_key",
    "user_key",
]

_SCHEMA_LOCK = 746_001  # any constant; pg_advisory_lock key shared by every test session
_READY_TIMEOUT_S = 15.0
_prepared = False


def mint_key(claims: dict[str, Any], *, secret: str = JWT_SECRET) -> str:
    """An HS256 JWT as Supabase issues them; expires in an hour."""
    now = int(time.time())
    return jwt.encode({"iat": now, "exp": now + 3600, **claims}, secret, algorithm="HS256")


def user_key(tenant_id: uuid.UUID, *, secret: str = JWT_SECRET) -> str:
    """A signed-in user's JWT whose app_metadata names their tenant (what RLS reads)."""
    return mint_key(
        {
            "role": "authenticated",
            "sub": str(uuid.uuid4()),
            "aud": "authenticated",
            "app_metadata": {"tenant_id": str(tenant_id)},
        },
        secret=secret,
    )


def service_role_key() -> str:
    return mint_key({"role": "service_role"})


def anon_key() -> str:
    return mint_key({"role": "anon"})


def rest_database() -> Database:
    """The owner's connection to PostgREST's database (bypasses RLS: for seeding data)."""
    return Database.from_url(REST_DATABASE_URL)


async def _wait_until_postgrest_serves(marker: str) -> None:
    """Poll until PostgREST's schema cache is the migrated schema: its OpenAPI document
    carries the schema's comment as its title, so a stale cache cannot pass."""
    deadline = time.monotonic() + _READY_TIMEOUT_S
    headers = {"Authorization": f"Bearer {service_role_key()}"}
    async with httpx.AsyncClient(base_url=POSTGREST_URL, timeout=5.0) as http:
        while True:
            response = await http.get("/", headers=headers)
            info: Any = response.json().get("info", {}) if response.status_code == 200 else {}
            if info.get("title") == marker:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"PostgREST did not load the migrated schema within {_READY_TIMEOUT_S}s "
                    f"({response.status_code}); is it serving database switchboard_rest?"
                )
            await anyio.sleep(0.05)  # polling while PostgREST reloads its schema cache


async def prepare_rest_schema() -> None:
    """Migrate `switchboard_rest` to this code's schema (if it is not already) and wait
    until PostgREST serves it. Skips (or fails in CI) when the services are not running."""
    global _prepared
    require(REST_DATABASE_URL, "PostgreSQL")
    require(POSTGREST_URL, "PostgREST")
    if _prepared:
        return
    digest = hashlib.sha256(postgres_ddl().encode()).hexdigest()[:32]
    marker = f"switchboard-ddl:{digest}"
    admin = Database.from_url(REST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.engine.connect() as conn:
            await conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": _SCHEMA_LOCK})
            try:
                current = (
                    await conn.execute(
                        sa.text("SELECT obj_description('public'::regnamespace, 'pg_namespace')")
                    )
                ).scalar()
                if current != marker:
                    await conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
                    await conn.execute(sa.text("CREATE SCHEMA public"))
                    await conn.execute(sa.text("GRANT USAGE ON SCHEMA public TO PUBLIC"))
                    db = rest_database()
                    try:
                        await upgrade(db.engine)
                    finally:
                        await db.dispose()
                    await conn.execute(sa.text(f"COMMENT ON SCHEMA public IS '{marker}'"))
                await conn.execute(sa.text("NOTIFY pgrst, 'reload schema'"))
            finally:
                await conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _SCHEMA_LOCK})
    finally:
        await admin.dispose()
    await _wait_until_postgrest_serves(marker)
    _prepared = True


async def create_rest_tenant(name_prefix: str = "t") -> uuid.UUID:
    """A new tenant in PostgREST's database; a unique name so tests never collide."""
    db = rest_database()
    tenant_id = uuid.uuid4()
    try:
        async with db.engine.begin() as conn:
            await conn.execute(
                sa.text("INSERT INTO tenants (id, name) VALUES (:id, :name)"),
                {"id": tenant_id, "name": f"{name_prefix}-{tenant_id.hex[:12]}"},
            )
    finally:
        await db.dispose()
    return tenant_id
