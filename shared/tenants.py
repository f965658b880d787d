"""Tenants: creating them, listing them, and resolving the one a process serves."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from shared.config import DEMO_TENANT_NAME
from shared.db.database import Database
from shared.db.schema import tenants
from shared.errors import NotFoundError, ValidationFailedError

__all__ = ["Tenant", "create_tenant", "get_or_create_tenant", "list_tenants", "resolve_tenant"]

MAX_NAME_LENGTH = 100


@dataclass(frozen=True)
class Tenant:
    id: uuid.UUID
    name: str
    created_at: datetime | None


def _row_to_tenant(row: sa.RowMapping) -> Tenant:
    return Tenant(id=row["id"], name=row["name"], created_at=row["created_at"])


def _validate_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH or not cleaned.isprintable():
        raise ValidationFailedError(
            f"a tenant name must be 1-{MAX_NAME_LENGTH} printable characters"
        )
    return cleaned


async def create_tenant_in(conn: AsyncConnection, name: str) -> Tenant:
    cleaned = _validate_name(name)
    new_id = uuid.uuid4()
    try:
        async with conn.begin_nested():
            await conn.execute(sa.insert(tenants).values(id=new_id, name=cleaned))
    except IntegrityError:
        raise ValidationFailedError(f"a tenant named '{cleaned}' already exists") from None
    row = (
        (
            await conn.execute(
                sa.select(tenants.c.id, tenants.c.name, tenants.c.created_at).where(
                    tenants.c.id == new_id
                )
            )
        )
        .mappings()
        .one()
    )
    return _row_to_tenant(row)


async def create_tenant(db: Database, name: str) -> Tenant:
    """Raises ValidationFailedError for an empty, overlong or taken name."""
    async with db.transaction() as conn:
        return await create_tenant_in(conn, name)


async def get_or_create_tenant(conn: AsyncConnection, name: str) -> Tenant:
    found = await _find(conn, name)
    return found if found is not None else await create_tenant_in(conn, name)


async def list_tenants(db: Database) -> list[Tenant]:
    async with db.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(tenants.c.id, tenants.c.name, tenants.c.created_at).order_by(tenants.c.name)
        )
        return [_row_to_tenant(r) for r in rows.mappings()]


async def _find(conn: AsyncConnection, name_or_id: str) -> Tenant | None:
    query = sa.select(tenants.c.id, tenants.c.name, tenants.c.created_at)
    try:
        as_id = uuid.UUID(name_or_id)
    except ValueError:
        query = query.where(tenants.c.name == name_or_id)
    else:
        query = query.where(tenants.c.id == as_id)
    row = (await conn.execute(query)).mappings().first()
    return _row_to_tenant(row) if row is not None else None


async def resolve_tenant(db: Database, name_or_id: str | None) -> Tenant:
    """The tenant named (or with that id); unset means the demo tenant.

    Raises NotFoundError saying how to create it.
    """
    wanted = name_or_id or DEMO_TENANT_NAME
    async with db.engine.connect() as conn:
        found = await _find(conn, wanted)
    if found is not None:
        return found
    if name_or_id is None:
        raise NotFoundError(
            "no tenant is configured and there is no 'demo' tenant; set SWITCHBOARD_TENANT or "
            "run `switchboard db seed --demo`"
        )
    raise NotFoundError(
        f"tenant '{wanted}' does not exist; `switchboard tenants list` shows the tenants, "
        f"`switchboard tenants create NAME` makes one"
    )
