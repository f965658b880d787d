"""Connecting to a Supabase project's REST API (PostgREST), and its errors turned into ours.

A Supabase project serves PostgREST under `/rest/v1`; a bare PostgREST (self-hosted, or the
one the tests run) serves it from `/`. `create_supabase_client` accepts either URL and finds
the REST root: a URL ending in `/rest/v1` is used as it is; otherwise one request to the
URL's root tells a bare PostgREST (it answers with its own `Server` header or OpenAPI
document) from a Supabase project (whose gateway does not).

Every REST call goes through `execute` (or `Rest`, one tenant's requests), which maps
transport failures and PostgREST error codes to the SwitchboardError family, with what to
do, and never the key.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any, Protocol, TypeVar, cast

import httpx
from postgrest import APIResponse, AsyncRequestBuilder, AsyncSelectRequestBuilder
from postgrest.exceptions import APIError
from pydantic import BaseModel
from supabase import AsyncClient, AsyncClientOptions
from yarl import URL

from shared.config import DEMO_TENANT_NAME, CrmSource, Settings
from shared.errors import (
    ConfigError,
    DatabaseUnavailableError,
    NotFoundError,
    PermissionDeniedError,
    SchemaVersionError,
    SwitchboardError,
    ValidationFailedError,
)

__all__ = [
    "REST_PREFIX",
    "Rest",
    "Rows",
    "SupabaseAccessDeniedError",
    "close_supabase_client",
    "columns_of",
    "create_supabase_client",
    "create_supabase_client_from_settings",
    "execute",
    "map_api_error",
    "resolve_rest_tenant",
    "resolve_rest_url",
    "rows_of",
    "supabase_url_and_key",
]

REST_PREFIX = "/rest/v1"
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)

T_co = TypeVar("T_co", covariant=True)

# PostgREST codes for a JWT it could not accept (bad signature, expired, malformed, no
# secret configured, anonymous access off); Supabase's gateway answers a bad apikey with 401.
_KEY_REFUSED_CODES = {"PGRST300", "PGRST301", "PGRST302", "PGRST303", "401"}
_MISSING_SCHEMA_CODES = {"42P01", "42883", "PGRST200", "PGRST202", "PGRST204", "PGRST205"}
# PostgREST could not reach its database, or lost it mid-request.
_DATABASE_DOWN_CODES = {"PGRST000", "PGRST001", "PGRST002", "PGRST003", "503", "520"}
_BAD_INPUT_CODES = {"22P02", "22007", "22008", "23502", "23503", "23505", "23514", "PGRST102"}


class SupabaseAccessDeniedError(PermissionDeniedError):
    """The key is valid but its role may not do this (Postgres 42501: a missing grant or a
    row-level security policy that refused the row)."""


class _Executable(Protocol[T_co]):
    def execute(self) -> Awaitable[T_co]: ...


def _key_refused(detail: str) -> DatabaseUnavailableError:
    return DatabaseUnavailableError(
        f"the Supabase key was refused: {detail}; check SWITCHBOARD_SUPABASE_KEY (a project "
        "API key or a user's JWT signed with the project's JWT secret)"
    )


def _unreachable(url: str, exc: Exception) -> DatabaseUnavailableError:
    reason = type(exc).__name__ if not str(exc) else str(exc)
    return DatabaseUnavailableError(
        f"cannot reach the Supabase REST API at {url} ({reason}); check "
        "SWITCHBOARD_SUPABASE_URL and that the project (or PostgREST) is running"
    )


def map_api_error(error: APIError) -> SwitchboardError:
    """The SwitchboardError that says what a PostgREST error means and what to do."""
    code = error.code or ""
    message = error.message or "no message"
    if code in _KEY_REFUSED_CODES or "JWT" in message or "Invalid API key" in message:
        return _key_refused(message)
    if code == "42501":
        return SupabaseAccessDeniedError(
            f"the Supabase key's role may not do this ({message}); use a key whose JWT has "
            "role 'authenticated' and app_metadata.tenant_id of this tenant, or the service "
            "role key, and apply Switchboard's row-level security migration "
            "(`switchboard db sql`)"
        )
    if code in _DATABASE_DOWN_CODES:
        return DatabaseUnavailableError(
            f"the Supabase REST API cannot reach its database ({message}); check the "
            "project's status (a paused free-tier project must be restored) and retry"
        )
    if code in _MISSING_SCHEMA_CODES:
        return SchemaVersionError(
            f"the Supabase project lacks part of Switchboard's schema ({message}); apply "
            "`switchboard db sql` as a migration (or run `switchboard db upgrade` against the "
            "project's Postgres), then reload PostgREST's schema cache"
        )
    if code in _BAD_INPUT_CODES:
        return ValidationFailedError(f"the CRM rejected the data: {message}")
    return SwitchboardError(f"the Supabase REST API refused the request ({code}: {message})")


async def execute(request: _Executable[T_co], *, url: str = "the Supabase URL") -> T_co:
    """Run one PostgREST request; raise a SwitchboardError saying what went wrong."""
    try:
        return await request.execute()
    except APIError as exc:
        raise map_api_error(exc) from None
    except httpx.TransportError as exc:
        raise _unreachable(url, exc) from None


Rows = list[dict[str, Any]]


def columns_of(model: type[BaseModel], *, exclude: set[str] | frozenset[str] = frozenset()) -> str:
    """A PostgREST `select` list of a model's fields (they are named after the columns)."""
    return ",".join(name for name in model.model_fields if name not in exclude)


def rows_of(data: object) -> Rows:
    """JSON rows from a response, refusing anything that is not a list of objects."""
    if not isinstance(data, list):
        raise SwitchboardError("the Supabase REST API answered with something other than rows")
    rows: Rows = []
    for row in cast(list[object], data):
        if not isinstance(row, dict):
            raise SwitchboardError("the Supabase REST API answered with something other than rows")
        rows.append(cast(dict[str, Any], row))
    return rows


class Rest:
    """One tenant's requests through one client, with PostgREST errors mapped to ours."""

    def __init__(self, client: AsyncClient, tenant_id: uuid.UUID) -> None:
        self._client = client
        self.tenant = str(tenant_id)
        self._url = str(client.rest_url)

    def table(self, name: str) -> AsyncRequestBuilder:
        return self._client.table(name)

    async def response(self, request: AsyncSelectRequestBuilder) -> APIResponse:
        return await execute(request, url=self._url)

    async def rows(self, request: AsyncSelectRequestBuilder) -> Rows:
        response = await self.response(request)
        data: object = response.data  # pyright: ignore[reportUnknownMemberType]
        return rows_of(data)

    def insert(self, table: str, row: dict[str, Any]) -> AsyncSelectRequestBuilder:
        """Insert one row, tagged with the tenant; PostgREST returns it as stored."""
        builder = self.table(table)
        return builder.insert({"tenant_id": self.tenant, **row})  # pyright: ignore[reportUnknownMemberType]

    def update(self, table: str, values: dict[str, Any]) -> AsyncSelectRequestBuilder:
        """Update this tenant's rows of `table` (add filters for which ones)."""
        builder = self.table(table)
        request = builder.update(values)  # pyright: ignore[reportUnknownMemberType]
        return request.eq("tenant_id", self.tenant)

    async def call(self, function: str, params: dict[str, Any]) -> object:
        """Call a SQL function (`/rpc/<function>`) and return its JSON result."""
        response = await execute(self._client.rpc(function, params), url=self._url)
        data: object = response.data  # pyright: ignore[reportUnknownMemberType]
        return data


def _looks_like_postgrest(response: httpx.Response) -> bool:
    server = response.headers.get("server", "").lower()
    content_type = response.headers.get("content-type", "")
    return server.startswith("postgrest") or content_type.startswith("application/openapi")


async def resolve_rest_url(url: str, http: httpx.AsyncClient) -> str:
    """The REST root for a project URL, a `.../rest/v1` URL, or a bare PostgREST URL.

    Raises DatabaseUnavailableError when nothing answers at `url`.
    """
    base = url.rstrip("/")
    if base.endswith(REST_PREFIX):
        return base
    try:
        response = await http.get(base + "/")
    except httpx.TransportError as exc:
        raise _unreachable(base, exc) from None
    return base if _looks_like_postgrest(response) else base + REST_PREFIX


def _validate_url(url: str) -> str:
    parsed = URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ConfigError(
            f"SWITCHBOARD_SUPABASE_URL must be an http(s) URL such as "
            f"https://abcdefgh.supabase.co, not {url!r}"
        )
    return url


async def create_supabase_client(
    url: str, key: str, *, http: httpx.AsyncClient | None = None
) -> AsyncClient:
    """An async Supabase client whose REST calls go to the right root (see module doc).

    The caller closes it with `close_supabase_client`. Raises ConfigError for a malformed
    URL or an empty key, DatabaseUnavailableError when the URL does not answer.
    """
    _validate_url(url)
    if not key.strip():
        raise ConfigError("SWITCHBOARD_SUPABASE_KEY is empty; set it to a project API key")
    session = http or httpx.AsyncClient(timeout=DEFAULT_TIMEOUT)
    try:
        rest_url = await resolve_rest_url(url, session)
    except BaseException:
        if http is None:
            await session.aclose()
        raise
    options = AsyncClientOptions(
        httpx_client=session, auto_refresh_token=False, persist_session=False
    )
    client = AsyncClient(url.rstrip("/"), key, options)
    # Must be set before the first .table() call: the PostgREST client is built lazily.
    client.rest_url = URL(rest_url)
    return client


async def close_supabase_client(client: AsyncClient) -> None:
    await client.postgrest.aclose()


async def resolve_rest_tenant(client: AsyncClient, wanted: str | None) -> uuid.UUID:
    """The tenant a Supabase-backed process serves, from the project's own `tenants` table
    (so it is the id the project's rows carry): `wanted` as an id or a name; unset, the only
    tenant the key can see (a user's JWT sees just its own), else the `demo` tenant.

    Raises NotFoundError saying what to set.
    """
    url = str(client.rest_url)

    async def tenants_where(column: str | None, value: str) -> Rows:
        request = client.table("tenants").select("id,name")
        if column is not None:
            request = request.eq(column, value)
        response = await execute(request.order("name").limit(2), url=url)
        data: object = response.data  # pyright: ignore[reportUnknownMemberType]
        return rows_of(data)

    if wanted:
        try:
            rows = await tenants_where("id", str(uuid.UUID(wanted)))
        except ValueError:
            rows = await tenants_where("name", wanted)
        if not rows:
            raise NotFoundError(
                f"tenant '{wanted}' is not in the Supabase project, or this key may not see "
                "it; check SWITCHBOARD_TENANT and SWITCHBOARD_SUPABASE_KEY"
            )
        return uuid.UUID(str(rows[0]["id"]))
    visible = await tenants_where(None, "")
    if len(visible) != 1:
        visible = await tenants_where("name", DEMO_TENANT_NAME)
    if not visible:
        raise NotFoundError(
            "SWITCHBOARD_TENANT is not set and the Supabase key sees no single tenant (nor one "
            f"named '{DEMO_TENANT_NAME}'); set SWITCHBOARD_TENANT to the tenant's name or id"
        )
    return uuid.UUID(str(visible[0]["id"]))


def supabase_url_and_key(settings: Settings) -> tuple[str, str]:
    """The Supabase URL and key from settings, or ConfigError naming the variable to set."""
    url = settings.supabase_url or ""
    key = settings.supabase_key.get_secret_value() if settings.supabase_key else ""
    missing = [
        name
        for name, value in (("SWITCHBOARD_SUPABASE_URL", url), ("SWITCHBOARD_SUPABASE_KEY", key))
        if not value.strip()
    ]
    if missing:
        raise ConfigError(
            f"SWITCHBOARD_CRM_SOURCE={CrmSource.SUPABASE.value} needs {' and '.join(missing)}; "
            "set them to the project URL (https://<ref>.supabase.co) and an API key "
            "(Project Settings > API), or set SWITCHBOARD_CRM_SOURCE=sql"
        )
    return url, key


async def create_supabase_client_from_settings(settings: Settings) -> AsyncClient:
    """The client SWITCHBOARD_SUPABASE_URL/KEY describe; ConfigError when one is missing."""
    url, key = supabase_url_and_key(settings)
    return await create_supabase_client(url, key)
