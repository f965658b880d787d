"""`external_mappings`: which external object (a ClickUp task, ...) stands for a CRM record.

One row per (tenant, tool, CRM entity, CRM id), so a retry or re-sync finds the object
it made before. `content_hash` is the hash of what was last written, so an unchanged
record costs no API call.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa

from shared.db.database import Database
from shared.db.orchestration_tables import external_mappings
from shared.db.types import utcnow

__all__ = ["ExternalMapping", "InMemoryMappingStore", "MappingStore", "SqlMappingStore"]


@dataclass(frozen=True)
class ExternalMapping:
    tenant_id: uuid.UUID
    tool_name: str
    crm_entity: str
    crm_id: str
    external_id: str
    external_url: str | None = None
    content_hash: str | None = None
    last_synced_at: datetime | None = None


class MappingStore(Protocol):
    async def get(
        self, tenant_id: uuid.UUID, tool_name: str, crm_entity: str, crm_id: str
    ) -> ExternalMapping | None: ...

    async def put(self, mapping: ExternalMapping) -> None:
        """Insert or replace the mapping for its (tenant, tool, entity, crm id)."""
        ...

    async def by_external_id(
        self, tenant_id: uuid.UUID, tool_name: str, external_id: str
    ) -> ExternalMapping | None: ...

    async def all(self, tenant_id: uuid.UUID, tool_name: str) -> list[ExternalMapping]: ...


class InMemoryMappingStore:
    """For unit tests and one-off syncs without a database."""

    def __init__(self) -> None:
        self.rows: dict[tuple[uuid.UUID, str, str, str], ExternalMapping] = {}

    async def get(
        self, tenant_id: uuid.UUID, tool_name: str, crm_entity: str, crm_id: str
    ) -> ExternalMapping | None:
        return self.rows.get((tenant_id, tool_name, crm_entity, crm_id))

    async def put(self, mapping: ExternalMapping) -> None:
        key = (mapping.tenant_id, mapping.tool_name, mapping.crm_entity, mapping.crm_id)
        self.rows[key] = mapping

    async def by_external_id(
        self, tenant_id: uuid.UUID, tool_name: str, external_id: str
    ) -> ExternalMapping | None:
        return next(
            (
                m
                for m in self.rows.values()
                if m.tenant_id == tenant_id
                and m.tool_name == tool_name
                and m.external_id == external_id
            ),
            None,
        )

    async def all(self, tenant_id: uuid.UUID, tool_name: str) -> list[ExternalMapping]:
        return [
            m for m in self.rows.values() if m.tenant_id == tenant_id and m.tool_name == tool_name
        ]


def _from_row(row: sa.RowMapping) -> ExternalMapping:
    return ExternalMapping(
        tenant_id=row["tenant_id"],
        tool_name=row["tool_name"],
        crm_entity=row["crm_entity"],
        crm_id=row["crm_id"],
        external_id=row["external_id"],
        external_url=row["external_url"],
        content_hash=row["content_hash"],
        last_synced_at=row["last_synced_at"],
    )


class SqlMappingStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(
        self, tenant_id: uuid.UUID, tool_name: str, crm_entity: str, crm_id: str
    ) -> ExternalMapping | None:
        t = external_mappings
        query = sa.select(t).where(
            t.c.tenant_id == tenant_id,
            t.c.tool_name == tool_name,
            t.c.crm_entity == crm_entity,
            t.c.crm_id == crm_id,
        )
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _from_row(row) if row is not None else None

    async def put(self, mapping: ExternalMapping) -> None:
        t = external_mappings
        values = {
            "external_id": mapping.external_id,
            "external_url": mapping.external_url,
            "content_hash": mapping.content_hash,
            "last_synced_at": mapping.last_synced_at or utcnow(),
            "updated_at": utcnow(),
        }
        key = (
            t.c.tenant_id == mapping.tenant_id,
            t.c.tool_name == mapping.tool_name,
            t.c.crm_entity == mapping.crm_entity,
            t.c.crm_id == mapping.crm_id,
        )
        # Update-then-insert inside one transaction (SQLite holds the write lock; on
        # Postgres the unique constraint turns a concurrent double insert into an error
        # the caller's retry resolves by reading the winner's row).
        async with self.db.transaction() as conn:
            updated = await conn.execute(sa.update(t).where(*key).values(**values))
            if updated.rowcount == 0:
                await conn.execute(
                    sa.insert(t).values(
                        tenant_id=mapping.tenant_id,
                        tool_name=mapping.tool_name,
                        crm_entity=mapping.crm_entity,
                        crm_id=mapping.crm_id,
                        **values,
                    )
                )

    async def by_external_id(
        self, tenant_id: uuid.UUID, tool_name: str, external_id: str
    ) -> ExternalMapping | None:
        t = external_mappings
        query = sa.select(t).where(
            t.c.tenant_id == tenant_id, t.c.tool_name == tool_name, t.c.external_id == external_id
        )
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _from_row(row) if row is not None else None

    async def all(self, tenant_id: uuid.UUID, tool_name: str) -> list[ExternalMapping]:
        t = external_mappings
        query = (
            sa.select(t)
            .where(t.c.tenant_id == tenant_id, t.c.tool_name == tool_name)
            .order_by(t.c.crm_entity, t.c.crm_id)
        )
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_from_row(r) for r in rows]
