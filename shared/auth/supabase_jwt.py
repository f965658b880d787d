"""Verifying Supabase Auth JWTs: tenant and role from the token's `app_metadata` claims.

Only `app_metadata` is trusted: Supabase lets a user edit their own `user_metadata`, while
`app_metadata` can be set only with the service role. A project signs with its JWT secret
(HS256) or with asymmetric keys published at its JWKS URL; both are supported.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from shared.auth.principal import Principal, Role

__all__ = ["SupabaseJwtVerifier"]

JWKS_CACHE_SECONDS = 600
ASYMMETRIC_ALGORITHMS = ["RS256", "ES256"]


@dataclass
class SupabaseJwtVerifier:
    """`verify(token)` gives a Principal or None; never raises for a bad token."""

    jwt_secret: str | None = None
    jwks_url: str | None = None
    issuer: str | None = None  # e.g. https://abc.supabase.co/auth/v1
    audience: str = "authenticated"
    http: httpx.AsyncClient | None = None
    _jwks: jwt.PyJWKSet | None = field(default=None, init=False)
    _jwks_fetched_at: float = field(default=0.0, init=False)

    async def _signing_key(self, token: str) -> tuple[Any, list[str]] | None:
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        if algorithm == "HS256":
            return (self.jwt_secret, ["HS256"]) if self.jwt_secret else None
        if algorithm not in ASYMMETRIC_ALGORITHMS or not self.jwks_url:
            return None
        jwks = await self._load_jwks()
        kid = header.get("kid")
        for key in jwks.keys:
            if key.key_id == kid:
                return key.key, [algorithm]
        return None

    async def _load_jwks(self, *, force: bool = False) -> jwt.PyJWKSet:
        fresh = time.monotonic() - self._jwks_fetched_at < JWKS_CACHE_SECONDS
        if self._jwks is not None and fresh and not force:
            return self._jwks
        assert self.jwks_url is not None
        client = self.http or httpx.AsyncClient(timeout=10)
        try:
            response = await client.get(self.jwks_url)
            response.raise_for_status()
            self._jwks = jwt.PyJWKSet.from_dict(response.json())
            self._jwks_fetched_at = time.monotonic()
        finally:
            if self.http is None:
                await client.aclose()
        return self._jwks

    async def verify(self, token: str) -> Principal | None:
        try:
            found = await self._signing_key(token)
            if found is None:
                return None
            key, algorithms = found
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "sub"], "verify_iss": self.issuer is not None},
            )
        except (jwt.PyJWTError, httpx.HTTPError, ValueError):
            return None
        return _principal_from_claims(claims)


def _principal_from_claims(claims: dict[str, Any]) -> Principal | None:
    app_metadata = claims.get("app_metadata")
    if not isinstance(app_metadata, dict):
        return None
    metadata: dict[str, Any] = app_metadata  # pyright: ignore[reportUnknownVariableType]
    try:
        tenant_id = uuid.UUID(str(metadata.get("tenant_id")))
        role = Role(str(metadata.get("switchboard_role", Role.VIEWER.value)))
    except ValueError:
        return None
    return Principal(
        tenant_id=tenant_id, role=role, subject=f"jwt:{claims['sub']}", kind="supabase_jwt"
    )
