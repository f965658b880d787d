"""The verified-token cache: a check per few seconds instead of per request, and revocation
still taking effect within that period."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt

from servers.http.auth import AuthCacheConfig, CachedTokenVerifier
from shared.auth.api_keys import create_api_key, revoke_api_key
from shared.auth.principal import Principal, Role
from shared.auth.supabase_jwt import SupabaseJwtVerifier
from shared.auth.tokens import BearerTokenVerifier
from shared.db.database import Database
from shared.tenants import create_tenant

SECRET = "super-secret-jwt-token-with-at-least-32-characters"
PRINCIPAL = Principal(tenant_id=uuid.uuid4(), role=Role.VIEWER, subject="key:k1", kind="api_key")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingVerifier:
    """Says yes to the tokens in `valid`; counts how often it is asked."""

    def __init__(self, valid: dict[str, Principal]) -> None:
        self.valid = valid
        self.calls = 0

    async def verify(self, token: str) -> Principal | None:
        self.calls += 1
        return self.valid.get(token)


def _cached(
    inner: Any, clock: Clock, cache_s: float = 5, entries: int = 100
) -> CachedTokenVerifier:
    return CachedTokenVerifier(
        inner, AuthCacheConfig(cache_s=cache_s, cache_entries=entries), clock=clock
    )


async def test_a_valid_token_is_checked_once_per_period() -> None:
    clock, inner = Clock(), CountingVerifier({"good": PRINCIPAL})
    verifier = _cached(inner, clock)
    assert await verifier.verify("good") == PRINCIPAL
    clock.now += 4.9
    assert await verifier.verify("good") == PRINCIPAL
    assert inner.calls == 1
    clock.now += 0.2  # the period is over: checked again
    assert await verifier.verify("good") == PRINCIPAL
    assert inner.calls == 2


async def test_refusals_are_never_cached() -> None:
    clock, inner = Clock(), CountingVerifier({})
    verifier = _cached(inner, clock)
    assert await verifier.verify("bad") is None
    assert await verifier.verify("bad") is None
    assert inner.calls == 2
    inner.valid["bad"] = PRINCIPAL  # e.g. the key was created after the first try
    assert await verifier.verify("bad") == PRINCIPAL


async def test_zero_seconds_turns_the_cache_off() -> None:
    clock, inner = Clock(), CountingVerifier({"good": PRINCIPAL})
    verifier = _cached(inner, clock, cache_s=0)
    await verifier.verify("good")
    await verifier.verify("good")
    assert inner.calls == 2


async def test_the_oldest_entries_go_when_the_cache_is_full() -> None:
    clock = Clock()
    inner = CountingVerifier({f"t{n}": PRINCIPAL for n in range(3)})
    verifier = _cached(inner, clock, entries=2)
    for token in ("t0", "t1", "t2"):
        await verifier.verify(token)
    await verifier.verify("t2")
    await verifier.verify("t0")  # dropped to make room: checked again
    assert inner.calls == 4


async def test_a_revoked_api_key_is_refused_once_the_period_is_over(sqlite_db: Database) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    issued = await create_api_key(sqlite_db, tenant.id, Role.OPERATOR)
    clock = Clock()
    verifier = _cached(BearerTokenVerifier(sqlite_db), clock)
    principal = await verifier.verify(issued.token)
    assert principal is not None and principal.tenant_id == tenant.id
    await revoke_api_key(sqlite_db, issued.key_id)
    clock.now += 1  # within the period: the cached verdict stands (the documented lag)
    assert await verifier.verify(issued.token) is not None
    clock.now += 5
    assert await verifier.verify(issued.token) is None


async def test_a_jwt_is_not_trusted_past_its_own_expiry() -> None:
    tenant = uuid.uuid4()
    claims = {
        "sub": "user-1",
        "aud": "authenticated",
        "exp": int(time.time()) + 2,
        "app_metadata": {"tenant_id": str(tenant), "switchboard_role": "viewer"},
    }
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    inner = SupabaseJwtVerifier(jwt_secret=SECRET)
    calls = 0

    class Counting:
        async def verify(self, token: str) -> Principal | None:
            nonlocal calls
            calls += 1
            return await inner.verify(token)

    clock = Clock()
    verifier = _cached(Counting(), clock, cache_s=60)
    assert await verifier.verify(token) is not None
    clock.now += 1
    assert await verifier.verify(token) is not None
    assert calls == 1
    clock.now += 2  # past the token's exp though well within cache_s: checked afresh
    await verifier.verify(token)
    assert calls == 2
