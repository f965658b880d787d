"""Row-level security, proven with raw PostgREST requests that skip our own tenant filter:
what isolates tenants on the REST path is the database, not Switchboard's code."""

from __future__ import annotations

import uuid

import httpx
import pytest
import sqlalchemy as sa

from shared.db.database import Database
from tests.integration.supabase.conftest import RestTenant
from tests.integration.supabase.postgrest import anon_key, service_role_key

pytestmark = pytest.mark.postgrest


async def _account(db: Database, tenant: RestTenant, name: str) -> uuid.UUID:
    account_id = uuid.uuid4()
    async with db.engine.begin() as conn:
        await conn.execute(
            sa.text("INSERT INTO accounts (id, tenant_id, name) VALUES (:id, :t, :n)"),
            {"id": account_id, "t": tenant.id, "n": name},
        )
    return account_id


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "apikey": key}


async def test_a_users_jwt_reads_only_its_tenants_rows_without_any_tenant_filter(
    rest_db: Database, rest: httpx.AsyncClient, tenant_a: RestTenant, tenant_b: RestTenant
) -> None:
    mine = await _account(rest_db, tenant_a, "A's account")
    await _account(rest_db, tenant_b, "B's account")

    everything = await rest.get(
        "/accounts", params={"select": "id,tenant_id"}, headers=tenant_a.headers
    )
    asked_for_b = await rest.get(
        "/accounts", params={"tenant_id": f"eq.{tenant_b.id}"}, headers=tenant_a.headers
    )

    assert everything.status_code == 200
    assert everything.json() == [{"id": str(mine), "tenant_id": str(tenant_a.id)}]
    assert asked_for_b.status_code == 200
    assert asked_for_b.json() == []


async def test_a_users_jwt_cannot_update_another_tenants_row(
    rest_db: Database, rest: httpx.AsyncClient, tenant_a: RestTenant, tenant_b: RestTenant
) -> None:
    theirs = await _account(rest_db, tenant_b, "B's account")

    response = await rest.patch(
        "/accounts",
        params={"id": f"eq.{theirs}"},
        json={"name": "hijacked"},
        headers={**tenant_a.headers, "Prefer": "return=representation"},
    )

    assert response.status_code == 200
    assert response.json() == []  # the row is invisible to A, so nothing matched
    async with rest_db.engine.connect() as conn:
        name = (
            await conn.execute(sa.text("SELECT name FROM accounts WHERE id = :id"), {"id": theirs})
        ).scalar()
    assert name == "B's account"


async def test_a_users_jwt_cannot_insert_a_row_into_another_tenant(
    rest_db: Database, rest: httpx.AsyncClient, tenant_a: RestTenant, tenant_b: RestTenant
) -> None:
    response = await rest.post(
        "/accounts",
        json={"tenant_id": str(tenant_b.id), "name": "planted"},
        headers=tenant_a.headers,
    )

    assert response.status_code in (401, 403)
    assert response.json()["code"] == "42501"
    async with rest_db.engine.connect() as conn:
        count = (
            await conn.execute(
                sa.text("SELECT count(*) FROM accounts WHERE tenant_id = :t"), {"t": tenant_b.id}
            )
        ).scalar()
    assert count == 0


async def test_a_users_jwt_cannot_attach_a_row_to_another_tenants_account(
    rest_db: Database, rest: httpx.AsyncClient, tenant_a: RestTenant, tenant_b: RestTenant
) -> None:
    theirs = await _account(rest_db, tenant_b, "B's account")

    response = await rest.post(
        "/activities",
        json={
            "tenant_id": str(tenant_a.id),
            "account_id": str(theirs),
            "kind": "note",
            "subject": "a note on someone else's account",
        },
        headers=tenant_a.headers,
    )

    assert response.json()["code"] == "42501"


async def test_an_anon_key_is_refused_on_insert_and_read(
    rest_db: Database, rest: httpx.AsyncClient, tenant_a: RestTenant
) -> None:
    await _account(rest_db, tenant_a, "A's account")
    anon = _bearer(anon_key())

    insert = await rest.post(
        "/accounts", json={"tenant_id": str(tenant_a.id), "name": "anon"}, headers=anon
    )
    read = await rest.get("/accounts", headers=anon)

    assert insert.json()["code"] == "42501"
    assert read.json()["code"] == "42501"


async def test_orchestration_tables_are_closed_to_users(
    rest_db: Database, rest: httpx.AsyncClient, tenant_a: RestTenant
) -> None:
    for table in ("event_queue", "external_tool_configs", "audit_log", "api_keys"):
        response = await rest.get(f"/{table}", headers=tenant_a.headers)
        assert response.json()["code"] == "42501", table


async def test_the_service_role_key_sees_every_tenant(
    rest_db: Database, rest: httpx.AsyncClient, tenant_a: RestTenant, tenant_b: RestTenant
) -> None:
    a = await _account(rest_db, tenant_a, "A's account")
    b = await _account(rest_db, tenant_b, "B's account")

    response = await rest.get(
        "/accounts",
        params={"id": f"in.({a},{b})", "select": "id"},
        headers=_bearer(service_role_key()),
    )

    assert {row["id"] for row in response.json()} == {str(a), str(b)}


async def test_a_user_sees_only_its_own_tenant_row(
    rest_db: Database, rest: httpx.AsyncClient, tenant_a: RestTenant, tenant_b: RestTenant
) -> None:
    response = await rest.get("/tenants", params={"select": "id"}, headers=tenant_a.headers)

    assert response.json() == [{"id": str(tenant_a.id)}]
