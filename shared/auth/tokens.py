"""One entry for bearer tokens: a Switchboard API key or a Supabase Auth JWT."""

from __future__ import annotations

from dataclasses import dataclass

from shared.auth.api_keys import looks_like_api_key, verify_api_key
from shared.auth.principal import Principal
from shared.auth.supabase_jwt import SupabaseJwtVerifier
from shared.config import Settings
from shared.db.database import Database

__all__ = ["BearerTokenVerifier"]


@dataclass
class BearerTokenVerifier:
    db: Database
    supabase: SupabaseJwtVerifier | None = None

    @classmethod
    def from_settings(cls, db: Database, settings: Settings) -> BearerTokenVerifier:
        secret = settings.supabase_jwt_secret
        jwks = settings.supabase_jwks_url
        if jwks is None and settings.supabase_url:
            jwks = f"{settings.supabase_url}/auth/v1/.well-known/jwks.json"
        supabase = None
        if secret is not None or jwks is not None:
            supabase = SupabaseJwtVerifier(
                jwt_secret=secret.get_secret_value() if secret else None,
                jwks_url=jwks,
                issuer=f"{settings.supabase_url}/auth/v1" if settings.supabase_url else None,
            )
        return cls(db, supabase)

    async def verify(self, token: str) -> Principal | None:
        if looks_like_api_key(token):
            return await verify_api_key(self.db, token)
        if self.supabase is not None:
            return await self.supabase.verify(token)
        return None
