"""The one MetaData every table belongs to, and the columns every table repeats."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from shared.db.types import UUID, GenRandomUuid, UtcDateTime, utcnow

__all__ = ["NOW", "created_at", "id_column", "metadata", "tenant_column", "updated_at"]

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

NOW = sa.text("CURRENT_TIMESTAMP")


def id_column() -> sa.Column[Any]:
    """`id UUID PRIMARY KEY DEFAULT gen_random_uuid()`; Core inserts also fill it client-side."""
    return sa.Column(
        "id", UUID, primary_key=True, default=uuid.uuid4, server_default=GenRandomUuid()
    )


def tenant_column() -> sa.Column[Any]:
    return sa.Column(
        "tenant_id", UUID, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False
    )


def created_at() -> sa.Column[Any]:
    return sa.Column("created_at", UtcDateTime(), default=utcnow, server_default=NOW)


def updated_at() -> sa.Column[Any]:
    return sa.Column(
        "updated_at", UtcDateTime(), default=utcnow, onupdate=utcnow, server_default=NOW
    )
