from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from shared.auth.principal import Role
from shared.auth.supabase_jwt import SupabaseJwtVerifier

SECRET = "super-secret-jwt-token-with-at-least-32-characters"
ISSUER = "https://abc.supabase.co/auth/v1"


def claims(tenant: uuid.UUID, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sub": "user-1",
        "aud": "authenticated",
        "iss": ISSUER,
        "role": "authenticated",
        "exp": int(time.time()) + 3600,
        "app_metadata": {"tenant_id": str(tenant), "switchboard_role": "operator"},
    }
    base.update(overrides)
    return base


async def test_hs256_token_gives_tenant_and_role_from_app_metadata() -> None:
    tenant = uuid.uuid4()
    verifier = SupabaseJwtVerifier(jwt_secret=SECRET, issuer=ISSUER)
    principal = await verifier.verify(jwt.encode(claims(tenant), SECRET, algorithm="HS256"))
    assert principal is not None
    assert principal.tenant_id == tenant
    assert principal.role is Role.OPERATOR
    assert principal.subject == "jwt:user-1"


async def test_role_defaults_to_viewer() -> None:
    tenant = uuid.uuid4()
    token_claims = claims(tenant)
    token_claims["app_metadata"] = {"tenant_id": str(tenant)}
    verifier = SupabaseJwtVerifier(jwt_secret=SECRET, issuer=ISSUER)
    principal = await verifier.verify(jwt.encode(token_claims, SECRET, algorithm="HS256"))
    assert principal is not None and principal.role is Role.VIEWER


async def test_user_editable_metadata_is_not_trusted_for_the_tenant() -> None:
    token_claims = claims(uuid.uuid4())
    token_claims["user_metadata"] = token_claims.pop("app_metadata")
    verifier = SupabaseJwtVerifier(jwt_secret=SECRET, issuer=ISSUER)
    assert await verifier.verify(jwt.encode(token_claims, SECRET, algorithm="HS256")) is None


async def test_bad_tokens_are_refused() -> None:
    tenant = uuid.uuid4()
    verifier = SupabaseJwtVerifier(jwt_secret=SECRET, issuer=ISSUER)
    wrong_secret = jwt.encode(claims(tenant), "x" * 40, algorithm="HS256")
    expired = jwt.encode(claims(tenant, exp=int(time.time()) - 10), SECRET, algorithm="HS256")
    wrong_audience = jwt.encode(claims(tenant, aud="anon"), SECRET, algorithm="HS256")
    wrong_issuer = jwt.encode(claims(tenant, iss="https://evil/auth/v1"), SECRET, algorithm="HS256")
    unsigned = jwt.encode(claims(tenant), "", algorithm="none")
    for token in (wrong_secret, expired, wrong_audience, wrong_issuer, unsigned, "garbage"):
        assert await verifier.verify(token) is None, token


async def test_asymmetric_token_is_checked_against_the_projects_jwks() -> None:
    private_key = ec.generate_private_key(ec.SECP256R1())
    public_jwk = json.loads(ECAlgorithm.to_jwk(private_key.public_key()))
    public_jwk.update({"kid": "key-1", "alg": "ES256", "use": "sig"})
    fetched: list[str] = []

    def serve_jwks(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        return httpx.Response(200, json={"keys": [public_jwk]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(serve_jwks)) as http:
        verifier = SupabaseJwtVerifier(
            jwks_url=f"{ISSUER}/.well-known/jwks.json", issuer=ISSUER, http=http
        )
        tenant = uuid.uuid4()
        token = jwt.encode(claims(tenant), private_key, algorithm="ES256", headers={"kid": "key-1"})
        principal = await verifier.verify(token)
        assert principal is not None and principal.tenant_id == tenant
        other_key = ec.generate_private_key(ec.SECP256R1())
        forged = jwt.encode(claims(tenant), other_key, algorithm="ES256", headers={"kid": "key-1"})
        assert await verifier.verify(forged) is None
    assert fetched == [f"{ISSUER}/.well-known/jwks.json"]  # cached after the first fetch
