"""The `supabase` data source beyond the contract suite: what the key in hand allows, and
what a user sees when the key or the URL is wrong."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
import sqlalchemy as sa
from supabase import AsyncClient

from shared.crm.models import ActivityKind, NewActivity, NewHealthScore, ProspectSearch
from shared.crm.query import CrmQuery, QueryMetric
from shared.crm.supabase import SupabaseCrmRepository
from shared.crm.supabase_client import (
    SupabaseAccessDeniedError,
    close_supabase_client,
    create_supabase_client,
    resolve_rest_tenant,
)
from shared.db.database import Database
from shared.errors import DatabaseUnavailableError, NotFoundError, SwitchboardError
from tests.contract.crm.builders import CrmBuilder
from tests.integration.supabase.conftest import RestTenant
from tests.integration.supabase.postgrest import anon_key, mint_key, service_role_key, user_key
from tests.services import POSTGREST_URL

pytestmark = pytest.mark.postgrest

ClientFor = Callable[[str], Awaitable[AsyncClient]]


@pytest.fixture
async def client_for() -> AsyncIterator[ClientFor]:
    """Clients with a given key, closed after the test."""
    clients: list[AsyncClient] = []

    async def make(key: str) -> AsyncClient:
        client = await create_supabase_client(POSTGREST_URL, key)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await close_supabase_client(client)


async def test_a_repository_pointed_at_tenant_b_with_as_jwt_sees_and_changes_nothing_of_b(
    rest_db: Database, client_for: ClientFor, tenant_a: RestTenant, tenant_b: RestTenant
) -> None:
    """Our own filter says tenant B here; only row-level security says A. B stays hidden."""
    build = CrmBuilder(rest_db)
    theirs = await build.account(tenant_b.id, "B's account", industry="dentist")
    confused = SupabaseCrmRepository(await client_for(tenant_a.key), tenant_b.id)

    page = await confused.search_accounts(ProspectSearch())
    with pytest.raises(NotFoundError):
        await confused.get_account(theirs)
    with pytest.raises(NotFoundError):
        await confused.log_activity(
            NewActivity(account_id=theirs, kind=ActivityKind.NOTE, subject="x")
        )
    with pytest.raises(NotFoundError):
        await confused.record_health_score(
            NewHealthScore(account_id=theirs, score=10, churn_probability=0.9)
        )
    counted = await confused.query(CrmQuery(entity="accounts", metrics=[QueryMetric(fn="count")]))

    assert page.total == 0 and page.items == []
    assert counted.rows == [[0]]


async def test_a_service_role_key_is_scoped_by_our_tenant_filter(
    rest_db: Database, client_for: ClientFor, tenant_a: RestTenant, tenant_b: RestTenant
) -> None:
    """The service role bypasses row-level security: then our filter is what isolates."""
    build = CrmBuilder(rest_db)
    await build.account(tenant_a.id, "A's account")
    theirs = await build.account(tenant_b.id, "B's account")
    repo = SupabaseCrmRepository(await client_for(service_role_key()), tenant_a.id)

    page = await repo.search_accounts(ProspectSearch())

    assert [a.name for a in page.items] == ["A's account"]
    with pytest.raises(NotFoundError):
        await repo.get_account(theirs)


async def test_an_anon_key_is_refused_with_a_permission_error(
    rest_db: Database, client_for: ClientFor, tenant_a: RestTenant
) -> None:
    mine = await CrmBuilder(rest_db).account(tenant_a.id, "A's account")
    repo = SupabaseCrmRepository(await client_for(anon_key()), tenant_a.id)

    with pytest.raises(SupabaseAccessDeniedError) as caught:
        await repo.log_activity(NewActivity(account_id=mine, kind=ActivityKind.NOTE, subject="x"))

    assert "may not do this" in str(caught.value)


async def test_a_key_with_a_wrong_signature_is_refused_with_a_clear_error(
    rest_db: Database, client_for: ClientFor, tenant_a: RestTenant
) -> None:
    forged = user_key(tenant_a.id, secret="not-the-project-secret-0123456789abcdef")
    repo = SupabaseCrmRepository(await client_for(forged), tenant_a.id)

    with pytest.raises(DatabaseUnavailableError) as caught:
        await repo.search_accounts(ProspectSearch())

    message = str(caught.value)
    assert message.startswith("the Supabase key was refused")
    assert "check SWITCHBOARD_SUPABASE_KEY" in message
    assert forged not in message


async def test_an_expired_key_is_refused_with_a_clear_error(
    rest_db: Database, client_for: ClientFor, tenant_a: RestTenant
) -> None:
    expired = mint_key({"role": "authenticated", "exp": 1_000_000_000})
    repo = SupabaseCrmRepository(await client_for(expired), tenant_a.id)

    with pytest.raises(DatabaseUnavailableError, match="the Supabase key was refused"):
        await repo.search_accounts(ProspectSearch())


async def test_an_unreachable_url_is_database_unavailable() -> None:
    with pytest.raises(DatabaseUnavailableError, match="cannot reach the Supabase REST API"):
        await create_supabase_client("http://127.0.0.1:9", service_role_key())


async def test_the_client_works_behind_a_supabase_style_rest_v1_prefix(
    rest_db: Database, tenant_a: RestTenant
) -> None:
    """A gateway that serves PostgREST under /rest/v1 and 404s at its root, as Supabase does."""
    forward = httpx.AsyncHTTPTransport()

    async def gateway(request: httpx.Request) -> httpx.Response:
        if not request.url.path.startswith("/rest/v1/"):
            return httpx.Response(404, headers={"server": "gateway"})
        path = request.url.path.removeprefix("/rest/v1")
        upstream = request.url.copy_with(
            scheme="http", host="127.0.0.1", port=httpx.URL(POSTGREST_URL).port, path=path
        )
        response = await forward.handle_async_request(
            httpx.Request(
                request.method, upstream, headers=request.headers, content=request.content
            )
        )
        await response.aread()
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )

    await CrmBuilder(rest_db).account(tenant_a.id, "Behind the gateway")
    http = httpx.AsyncClient(transport=httpx.MockTransport(gateway))
    client = await create_supabase_client("https://project.example", tenant_a.key, http=http)
    try:
        page = await SupabaseCrmRepository(client, tenant_a.id).search_accounts(ProspectSearch())
    finally:
        await close_supabase_client(client)
        await forward.aclose()

    assert str(client.rest_url) == "https://project.example/rest/v1"
    assert [a.name for a in page.items] == ["Behind the gateway"]


async def test_crm_query_function_refuses_tables_and_fields_outside_its_whitelist(
    rest_db: Database, client_for: ClientFor, tenant_a: RestTenant
) -> None:
    """The SQL function checks the spec itself: a caller can reach /rpc/crm_query directly."""
    client = await client_for(tenant_a.key)
    bad_specs = [
        {"table": "api_keys", "columns": [{"fn": "count"}]},
        {"table": "accounts", "columns": [{"field": "name; DROP TABLE accounts"}]},
        {"table": "accounts", "columns": [{"field": "tenant_id"}]},
        {
            "table": "accounts",
            "columns": [{"fn": "count"}],
            "filters": [{"field": "name", "op": "~", "value": "x"}],
        },
    ]
    for spec in bad_specs:
        with pytest.raises(SwitchboardError, match="crm_query"):
            await SupabaseCrmRepository(client, tenant_a.id)._rest.call(  # pyright: ignore[reportPrivateUsage]
                "crm_query", {"p_tenant_id": str(tenant_a.id), "p_spec": spec}
            )
    async with rest_db.engine.connect() as conn:
        still_there = await conn.scalar(sa.text("SELECT to_regclass('public.accounts')"))
    assert still_there is not None


async def test_every_write_tells_the_sink_after_it_committed(
    rest_db: Database, client_for: ClientFor, tenant_a: RestTenant
) -> None:
    mine = await CrmBuilder(rest_db).account(tenant_a.id, "A's account")
    told: list[tuple[str, object]] = []

    async def sink(change: object, *, connection: object | None) -> None:
        told.append((str(getattr(change, "kind", "")), connection))

    repo = SupabaseCrmRepository(await client_for(tenant_a.key), tenant_a.id, sink)
    await repo.log_activity(NewActivity(account_id=mine, kind=ActivityKind.NOTE, subject="x"))

    assert told == [("activity", None)]


async def test_the_tenant_is_resolved_from_the_projects_tenants_table(
    rest_db: Database, client_for: ClientFor, tenant_a: RestTenant, tenant_b: RestTenant
) -> None:
    users_client = await client_for(tenant_a.key)
    service_client = await client_for(service_role_key())
    async with rest_db.engine.connect() as conn:
        b_name = await conn.scalar(
            sa.text("SELECT name FROM tenants WHERE id = :id"), {"id": tenant_b.id}
        )

    assert await resolve_rest_tenant(users_client, None) == tenant_a.id  # its JWT's own
    assert await resolve_rest_tenant(service_client, str(b_name)) == tenant_b.id
    assert await resolve_rest_tenant(service_client, str(tenant_b.id)) == tenant_b.id
    with pytest.raises(NotFoundError, match="SWITCHBOARD_TENANT"):
        await resolve_rest_tenant(users_client, str(b_name))  # B is invisible to A's JWT


@pytest.mark.parametrize(
    "text", ['(HVAC), "Best"', "50%", "a\\b", "o'clock", "x.y:z", "*"]
)  # PostgREST's reserved characters, LIKE wildcards, quotes and backslashes
async def test_search_text_with_postgrest_syntax_characters_matches_literally(
    rest_db: Database, client_for: ClientFor, tenant_a: RestTenant, text: str
) -> None:
    build = CrmBuilder(rest_db)
    await build.account(tenant_a.id, 'Smith (HVAC), "Best" 50% a\\b o\'clock x.y:z *')
    await build.account(tenant_a.id, "Plain name", industry="a,b (c)")
    repo = SupabaseCrmRepository(await client_for(tenant_a.key), tenant_a.id)

    by_text = await repo.search_accounts(ProspectSearch(text=text))
    by_industry = await repo.search_accounts(ProspectSearch(industry=["a,b (c)"]))

    assert [a.name.split()[0] for a in by_text.items] == ["Smith"]
    assert [a.name for a in by_industry.items] == ["Plain name"]
