"""Bearer-token authentication for the HTTP app, and the MCP caller it implies.

The middleware verifies `Authorization: Bearer <token>` (a Switchboard API key or a
Supabase Auth JWT) once per request and leaves the Principal in the ASGI scope; the MCP
servers' caller resolver reads it from the request the SDK hands each tool call. The tenant
therefore always comes from the token of the request being served, never from a session
or an argument.

Verifying costs a store query (API key) or a signature check (JWT) on every request, and an
MCP client sends a request per tool call, so `CachedTokenVerifier` keeps a verified principal
for a few seconds (`SWITCHBOARD_AUTH_CACHE_S`), keyed by the token's SHA-256 digest (the
token itself is never kept). The price: a revoked API key keeps working in this process for
at most that long. A JWT is never trusted past its own `exp`; failures are never cached.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

import jwt
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field
from pydantic_settings import BaseSettings
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from servers.mcp.common.caller import CallerContext, Role
from shared.auth.principal import Principal
from shared.config import section_config

__all__ = [
    "PRINCIPAL_KEY",
    "AuthCacheConfig",
    "BearerAuthMiddleware",
    "CachedTokenVerifier",
    "TokenCallerResolver",
    "TokenVerifier",
    "principal_of",
]

PRINCIPAL_KEY = "switchboard.principal"


def principal_of(scope: Scope) -> Principal | None:
    found = scope.get(PRINCIPAL_KEY)
    return found if isinstance(found, Principal) else None


def bearer_token(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


class TokenVerifier(Protocol):
    """`shared.auth.tokens.BearerTokenVerifier`, or the cache in front of it."""

    async def verify(self, token: str) -> Principal | None: ...


class AuthCacheConfig(BaseSettings):
    model_config = section_config("AUTH")

    cache_s: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long a verified token is reused without a new check (0: never); "
        "a revoked API key is refused at most this long after revocation",
    )
    cache_entries: int = Field(
        default=10_000, ge=1, description="Verified tokens kept at most (oldest dropped)"
    )


class CachedTokenVerifier:
    """A verifier that reuses its verdict on a valid token for `cache_s` seconds."""

    def __init__(
        self,
        verifier: TokenVerifier,
        config: AuthCacheConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.verifier = verifier
        self.config = config or AuthCacheConfig()
        self._clock = clock
        self._verified: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()

    async def verify(self, token: str) -> Principal | None:
        if self.config.cache_s <= 0:
            return await self.verifier.verify(token)
        key = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        cached = self._verified.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        principal = await self.verifier.verify(token)
        if principal is None:  # never cache a refusal: a failure is checked afresh each time
            self._verified.pop(key, None)
            return None
        self._verified[key] = (principal, now + self._lifetime(token, principal))
        self._verified.move_to_end(key)
        while len(self._verified) > self.config.cache_entries:
            self._verified.popitem(last=False)
        return principal

    def _lifetime(self, token: str, principal: Principal) -> float:
        """The cache period, cut short by a JWT's own expiry (its signature already checked)."""
        if principal.kind != "supabase_jwt":
            return self.config.cache_s
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        left = float(claims.get("exp", 0)) - time.time()
        return max(0.0, min(self.config.cache_s, left))


class BearerAuthMiddleware:
    """401 unless the request carries a valid bearer token; the principal goes in the scope."""

    def __init__(self, app: ASGIApp, verifier: TokenVerifier, realm: str) -> None:
        self.app = app
        self.verifier = verifier
        self.realm = realm

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope.get("headers", []))
        principal = await self.verifier.verify(token) if token else None
        if principal is None:
            reason = "missing bearer token" if token is None else "invalid or revoked token"
            await _unauthorized(send, self.realm, reason)
            return
        scope[PRINCIPAL_KEY] = principal
        await self.app(scope, receive, send)


async def _unauthorized(send: Send, realm: str, reason: str) -> None:
    body = json.dumps(
        {
            "error": "unauthorized",
            "detail": f"{reason}: send `Authorization: Bearer <token>` with a Switchboard API "
            "key (`switchboard keys create`) or a Supabase Auth JWT",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", f'Bearer realm="{realm}"'.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class TokenCallerResolver:
    """The MCP caller of an HTTP request: tenant and role from its verified token."""

    def __init__(self, *, read_only: bool) -> None:
        self.read_only = read_only

    async def __call__(self, request: ServerRequestContext[Any, Any]) -> CallerContext:
        http_request = request.request
        principal = principal_of(http_request.scope) if isinstance(http_request, Request) else None
        if principal is None:  # the middleware guarantees one; refuse rather than guess
            raise ToolError("this request carries no verified token; reconnect with a bearer token")
        return CallerContext(
            tenant_id=principal.tenant_id,
            role=Role(principal.role.value),
            read_only=self.read_only,
            actor=principal.subject,
        )
