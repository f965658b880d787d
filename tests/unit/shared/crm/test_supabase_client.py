"""Finding the REST root, mapping PostgREST errors, and Supabase settings: no services."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from postgrest.exceptions import APIError
from pydantic import SecretStr

from shared.config import CrmSource, Settings
from shared.crm.factory import open_crm_repository
from shared.crm.supabase_client import (
    SupabaseAccessDeniedError,
    close_supabase_client,
    create_supabase_client,
    map_api_error,
    resolve_rest_url,
    supabase_url_and_key,
)
from shared.db.database import Database
from shared.errors import (
    ConfigError,
    DatabaseUnavailableError,
    SchemaVersionError,
    SwitchboardError,
    ValidationFailedError,
)


def _http(handler: httpx.MockTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=handler)


def _answers(status: int, headers: dict[str, str]) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, headers=headers))


async def test_a_bare_postgrest_is_used_from_its_root() -> None:
    async with _http(_answers(200, {"server": "postgrest/12.0.2"})) as http:
        assert await resolve_rest_url("http://127.0.0.1:3000/", http) == "http://127.0.0.1:3000"


async def test_a_postgrest_root_is_recognised_by_its_openapi_document() -> None:
    answer = _answers(401, {"content-type": "application/openapi+json"})
    async with _http(answer) as http:
        assert await resolve_rest_url("http://rest.local", http) == "http://rest.local"


async def test_a_supabase_project_url_gets_the_rest_v1_prefix() -> None:
    async with _http(_answers(404, {"server": "cloudflare"})) as http:
        url = await resolve_rest_url("https://abc.supabase.co", http)
    assert url == "https://abc.supabase.co/rest/v1"


async def test_a_url_that_already_ends_in_rest_v1_is_used_without_asking() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"unexpected request to {request.url}")

    async with _http(httpx.MockTransport(refuse)) as http:
        url = await resolve_rest_url("https://abc.supabase.co/rest/v1/", http)
    assert url == "https://abc.supabase.co/rest/v1"


async def test_an_unreachable_url_is_database_unavailable_saying_which_variable() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with _http(httpx.MockTransport(down)) as http:
        with pytest.raises(DatabaseUnavailableError) as caught:
            await resolve_rest_url("https://abc.supabase.co", http)
    assert "cannot reach" in str(caught.value)
    assert "SWITCHBOARD_SUPABASE_URL" in str(caught.value)


async def test_the_client_sends_rest_calls_to_the_resolved_root() -> None:
    seen: list[str] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/":
            return httpx.Response(404)
        return httpx.Response(200, json=[])

    http = _http(httpx.MockTransport(gateway))
    client = await create_supabase_client("https://abc.supabase.co", "key", http=http)
    try:
        await client.table("accounts").select("id").execute()
    finally:
        await close_supabase_client(client)
    assert seen == ["/", "/rest/v1/accounts"]


@pytest.mark.parametrize("url", ["abc.supabase.co", "ftp://abc", "https://"])
async def test_a_malformed_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="SWITCHBOARD_SUPABASE_URL"):
        await create_supabase_client(url, "key")


@pytest.mark.parametrize(
    ("error", "expected", "words"),
    [
        (
            {"code": "PGRST301", "message": "JWSError JWSInvalidSignature"},
            DatabaseUnavailableError,
            "the Supabase key was refused",
        ),
        ({"code": "401", "message": "Invalid API key"}, DatabaseUnavailableError, "refused"),
        (
            {"code": "42501", "message": "permission denied for table accounts"},
            SupabaseAccessDeniedError,
            "may not do this",
        ),
        (
            {"code": "42P01", "message": 'relation "public.accounts" does not exist'},
            SchemaVersionError,
            "switchboard db sql",
        ),
        ({"code": "23514", "message": "violates check"}, ValidationFailedError, "rejected"),
        (
            {"code": "PGRST001", "message": "Database client error"},
            DatabaseUnavailableError,
            "cannot reach its database",
        ),
        ({"code": "XX000", "message": "boom"}, SwitchboardError, "XX000"),
    ],
)
def test_postgrest_errors_become_errors_that_say_what_to_do(
    error: dict[str, str], expected: type[SwitchboardError], words: str
) -> None:
    mapped = map_api_error(APIError(error))
    assert type(mapped) is expected
    assert words in str(mapped)


def test_a_refused_key_names_the_variable_to_fix() -> None:
    mapped = map_api_error(APIError({"code": "PGRST301", "message": "JWT expired"}))
    assert "check SWITCHBOARD_SUPABASE_KEY" in str(mapped)


@pytest.mark.parametrize(
    ("url", "key", "missing"),
    [
        (None, None, "SWITCHBOARD_SUPABASE_URL and SWITCHBOARD_SUPABASE_KEY"),
        ("https://abc.supabase.co", None, "needs SWITCHBOARD_SUPABASE_KEY;"),
        (None, "k", "needs SWITCHBOARD_SUPABASE_URL;"),
        ("https://abc.supabase.co", "  ", "needs SWITCHBOARD_SUPABASE_KEY;"),
    ],
)
def test_supabase_source_without_url_or_key_says_which_variable_to_set(
    url: str | None, key: str | None, missing: str
) -> None:
    settings = Settings(
        crm_source=CrmSource.SUPABASE,
        supabase_url=url,
        supabase_key=SecretStr(key) if key is not None else None,
    )
    with pytest.raises(ConfigError) as caught:
        supabase_url_and_key(settings)
    assert missing in str(caught.value)
    assert "SWITCHBOARD_CRM_SOURCE=supabase" in str(caught.value)


def test_supabase_settings_give_url_and_key() -> None:
    settings = Settings(
        crm_source=CrmSource.SUPABASE,
        supabase_url="https://abc.supabase.co/",
        supabase_key=SecretStr("secret-key"),
    )
    assert supabase_url_and_key(settings) == ("https://abc.supabase.co", "secret-key")


async def test_the_crm_factory_refuses_the_supabase_source_without_its_settings(
    tmp_path: Path,
) -> None:
    settings = Settings(
        crm_source=CrmSource.SUPABASE, database_url=f"sqlite:///{tmp_path / 'store.sqlite3'}"
    )
    db = Database.from_url(settings.database_url)
    try:
        with pytest.raises(ConfigError) as caught:
            await open_crm_repository(settings, db, uuid.uuid4())
    finally:
        await db.dispose()
    assert "needs SWITCHBOARD_SUPABASE_URL and SWITCHBOARD_SUPABASE_KEY" in str(caught.value)
