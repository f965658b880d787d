"""`external_tool_configs` rows in and out, credentials encrypted on the way in.

`ToolConfig` is what an adapter is built from: the row with its credentials decrypted
into a `Credentials` object that never shows its values in repr, str or logs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from shared.crypto import CredentialCipher
from shared.db.database import Database
from shared.db.orchestration_tables import external_tool_configs
from shared.db.types import utcnow
from shared.errors import ConfigError, NotFoundError, ValidationFailedError

__all__ = [
    "KNOWN_TOOLS",
    "WEBHOOK_ONLY_TOOLS",
    "Credentials",
    "ToolConfig",
    "list_tool_configs",
    "load_tool_config",
    "rotate_credentials",
    "save_tool_config",
]

KNOWN_TOOLS = ("n8n", "make", "clickup", "apify")
# Senders that only call our webhooks (no adapter calls them): they hold a webhook secret.
WEBHOOK_ONLY_TOOLS = ("generic",)


class Credentials(Mapping[str, Any]):
    """Decrypted credential fields; `require(name)` raises ConfigError naming only the field."""

    def __init__(self, values: Mapping[str, Any] | None = None, *, tool: str = "tool") -> None:
        self._values = dict(values or {})
        self._tool = tool

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Credentials({sorted(self._values)!r}, values hidden)"

    __str__ = __repr__

    def require(self, name: str) -> str:
        value = self._values.get(name)
        if not isinstance(value, str) or not value:
            raise ConfigError(
                f"{self._tool} credentials lack '{name}'; store it with "
                f"`switchboard tools configure {self._tool}`"
            )
        return value

    def optional(self, name: str) -> str | None:
        value = self._values.get(name)
        return value if isinstance(value, str) and value else None

    def secret_values(self) -> list[str]:
        """Every string value, for scrubbing messages."""
        return [v for v in self._values.values() if isinstance(v, str) and v]


@dataclass(frozen=True)
class ToolConfig:
    tenant_id: uuid.UUID
    tool_name: str
    api_endpoint: str | None = None
    credentials: Credentials = field(default_factory=Credentials)
    authentication_type: str | None = None
    rate_limits: dict[str, Any] = field(default_factory=dict[str, Any])
    supported_operations: list[str] = field(default_factory=list[str])
    webhook_endpoints: dict[str, Any] = field(default_factory=dict[str, Any])
    settings: dict[str, Any] = field(default_factory=dict[str, Any])  # per-platform options
    tool_version: str | None = None
    id: uuid.UUID | None = None
    connection_status: str = "active"

    def endpoint(self, default: str | None = None) -> str:
        value = self.api_endpoint or default
        if not value:
            raise ConfigError(
                f"{self.tool_name} has no api_endpoint configured; set it with "
                f"`switchboard tools configure {self.tool_name} --endpoint URL`"
            )
        return value.rstrip("/")


def _row_to_config(row: sa.RowMapping, cipher: CredentialCipher) -> ToolConfig:
    tool = str(row["tool_name"])
    webhook_endpoints = dict(row["webhook_endpoints"] or {})
    return ToolConfig(
        id=row["id"],
        tenant_id=row["tenant_id"],
        tool_name=tool,
        tool_version=row["tool_version"],
        api_endpoint=row["api_endpoint"],
        authentication_type=row["authentication_type"],
        credentials=Credentials(cipher.decrypt_credentials(row["credentials"]), tool=tool),
        rate_limits=dict(row["rate_limits"] or {}),
        supported_operations=list(row["supported_operations"] or []),
        webhook_endpoints=webhook_endpoints,
        settings=dict(row["settings"] or {}),
        connection_status=str(row["connection_status"] or "active"),
    )


async def save_tool_config(
    db: Database,
    cipher: CredentialCipher,
    *,
    tenant_id: uuid.UUID,
    tool_name: str,
    api_endpoint: str | None = None,
    credentials: Mapping[str, Any] | None = None,
    authentication_type: str | None = None,
    rate_limits: Mapping[str, Any] | None = None,
    supported_operations: list[str] | None = None,
    webhook_endpoints: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    tool_version: str | None = None,
) -> uuid.UUID:
    """Insert or replace the tenant's configuration for `tool_name`; returns its id.

    `credentials=None` keeps what is stored; a mapping replaces it (encrypted).
    """
    if tool_name not in KNOWN_TOOLS + WEBHOOK_ONLY_TOOLS:
        raise ValidationFailedError(
            f"unknown tool '{tool_name}'; choose one of "
            f"{', '.join(KNOWN_TOOLS + WEBHOOK_ONLY_TOOLS)}"
        )
    values: dict[str, Any] = {
        "api_endpoint": api_endpoint,
        "authentication_type": authentication_type,
        "rate_limits": dict(rate_limits) if rate_limits is not None else None,
        "supported_operations": supported_operations,
        "webhook_endpoints": dict(webhook_endpoints) if webhook_endpoints is not None else None,
        "settings": dict(settings) if settings is not None else None,
        "tool_version": tool_version,
        "updated_at": utcnow(),
    }
    if credentials is not None:
        values["credentials"] = cipher.encrypt_credentials(credentials)
    table = external_tool_configs
    async with db.transaction() as conn:
        existing = (
            await conn.execute(
                sa.select(table.c.id).where(
                    table.c.tenant_id == tenant_id, table.c.tool_name == tool_name
                )
            )
        ).scalar_one_or_none()
        if existing is not None:
            await conn.execute(sa.update(table).where(table.c.id == existing).values(**values))
            return existing
        new_id = uuid.uuid4()
        await conn.execute(
            sa.insert(table).values(id=new_id, tenant_id=tenant_id, tool_name=tool_name, **values)
        )
        return new_id


async def load_tool_config(
    db: Database, cipher: CredentialCipher, tenant_id: uuid.UUID, tool_name: str
) -> ToolConfig:
    """The decrypted configuration; NotFoundError saying how to add it when absent."""
    table = external_tool_configs
    async with db.engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    sa.select(table).where(
                        table.c.tenant_id == tenant_id, table.c.tool_name == tool_name
                    )
                )
            )
            .mappings()
            .first()
        )
    if row is None:
        raise NotFoundError(
            f"{tool_name} is not configured for this tenant; add it with "
            f"`switchboard tools configure {tool_name}`"
        )
    return _row_to_config(row, cipher)


async def list_tool_configs(
    db: Database, cipher: CredentialCipher, tenant_id: uuid.UUID | None = None
) -> list[ToolConfig]:
    """Every configuration (of one tenant, or all for the health monitor)."""
    table = external_tool_configs
    query = sa.select(table).order_by(table.c.tenant_id, table.c.tool_name)
    if tenant_id is not None:
        query = query.where(table.c.tenant_id == tenant_id)
    async with db.engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [_row_to_config(row, cipher) for row in rows]


async def rotate_credentials(db: Database, cipher: CredentialCipher) -> int:
    """Re-encrypt every stored credential under the newest key; returns rows rewritten.

    Run after putting a new key first in SWITCHBOARD_SECRET_KEY; the old key can be
    removed once this has finished.
    """
    table = external_tool_configs
    rewritten = 0
    async with db.transaction() as conn:
        # Locked until commit: a credential saved meanwhile (under the new key) must not be
        # overwritten by this re-encryption of the value read before it. Readers never wait.
        rows = (
            await conn.execute(
                sa.select(table.c.id, table.c.credentials)
                .where(table.c.credentials.is_not(None))
                .with_for_update()
            )
        ).all()
        for row_id, stored in rows:
            if not stored:
                continue
            await conn.execute(
                sa.update(table)
                .where(table.c.id == row_id)
                .values(credentials=cipher.rotate(stored))
            )
            rewritten += 1
    return rewritten
