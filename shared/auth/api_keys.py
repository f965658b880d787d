"""Switchboard API keys: `sbk_<key_id>_<secret>`, stored as a SHA-256 of the secret only.

The secret has 256 bits of entropy, so a fast hash is the right tool (a slow password hash
would only cost latency on every request); comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from shared.auth.principal import Principal, Role
from shared.db.database import Database
from shared.db.schema import api_keys
from shared.db.types import utcnow
from shared.errors import NotFoundError

__all__ = [
    "ApiKeyInfo",
    "IssuedKey",
    "create_api_key",
    "list_api_keys",
    "revoke_api_key",
    "verify_api_key",
]

PREFIX = "sbk"


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    token: str  # shown once, never stored
    role: Role
    tenant_id: uuid.UUID


@dataclass(frozen=True)
class ApiKeyInfo:
    key_id: str
    tenant_id: uuid.UUID
    role: Role
    label: str | None
    created_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _split(token: str) -> tuple[str, str] | None:
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def looks_like_api_key(token: str) -> bool:
    return _split(token) is not None


async def create_api_key(
    db: Database, tenant_id: uuid.UUID, role: Role, label: str | None = None
) -> IssuedKey:
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    async with db.transaction() as conn:
        await conn.execute(
            sa.insert(api_keys).values(
                tenant_id=tenant_id,
                key_id=key_id,
                secret_hash=_hash(secret),
                role=role.value,
                label=label,
            )
        )
    return IssuedKey(key_id, f"{PREFIX}_{key_id}_{secret}", role, tenant_id)


async def verify_api_key(db: Database, token: str) -> Principal | None:
    """The principal for a valid, unrevoked key; None for anything else (say nothing more)."""
    parts = _split(token)
    if parts is None:
        return None
    key_id, secret = parts
    async with db.engine.connect() as conn:
        row = (
            (await conn.execute(sa.select(api_keys).where(api_keys.c.key_id == key_id)))
            .mappings()
            .first()
        )
    # Compare even when the key id is unknown, so timing does not reveal which ids exist.
    expected = row["secret_hash"] if row is not None else _hash("")
    matches = hmac.compare_digest(expected, _hash(secret))
    if row is None or not matches or row["revoked_at"] is not None:
        return None
    return Principal(
        tenant_id=row["tenant_id"], role=Role(row["role"]), subject=f"key:{key_id}", kind="api_key"
    )


async def touch_api_key(db: Database, key_id: str) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(
            sa.update(api_keys).where(api_keys.c.key_id == key_id).values(last_used_at=utcnow())
        )


async def revoke_api_key(db: Database, key_id: str) -> None:
    """Raises NotFoundError when no such key exists."""
    async with db.transaction() as conn:
        result = await conn.execute(
            sa.update(api_keys)
            .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    if result.rowcount == 0:
        raise NotFoundError(f"no active API key '{key_id}'; `switchboard keys list` shows the keys")


async def list_api_keys(db: Database, tenant_id: uuid.UUID | None = None) -> list[ApiKeyInfo]:
    query = sa.select(api_keys).order_by(api_keys.c.created_at)
    if tenant_id is not None:
        query = query.where(api_keys.c.tenant_id == tenant_id)
    async with db.engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [
        ApiKeyInfo(
            key_id=r["key_id"],
            tenant_id=r["tenant_id"],
            role=Role(r["role"]),
            label=r["label"],
            created_at=r["created_at"],
            last_used_at=r["last_used_at"],
            revoked_at=r["revoked_at"],
        )
        for r in rows
    ]
