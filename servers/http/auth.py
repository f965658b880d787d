"""Bearer-token authentication for the HTTP app, and the MCP caller it implies.

The middleware verifies `Authorization: Bearer <token>` (a Switchboard API key or a
Supabase Auth JWT) once per request and leaves the Principal in the ASGI scope; the MCP
servers' caller resolver reads it from the request the SDK hands each tool call. The tenant
therefore always comes from the token of the request being served, never from a session
or an argument.
"""

from __future__ import annotations

import json
from typing import Any

from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver.exceptions import ToolError
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from servers.mcp.common.caller import CallerContext, Role
from shared.auth.principal import Principal
from shared.auth.tokens import BearerTokenVerifier

__all__ = ["PRINCIPAL_KEY", "BearerAuthMiddleware", "TokenCallerResolver", "principal_of"]

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


class BearerAuthMiddleware:
    """401 unless the request carries a valid bearer token; the principal goes in the scope."""

    def __init__(self, app: ASGIApp, verifier: BearerTokenVerifier, realm: str) -> None:
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
