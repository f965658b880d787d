"""Column types that mean the same on SQLite and Postgres."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles  # pyright: ignore[reportUnknownVariableType]
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

__all__ = ["JSONB", "TEXT_ARRAY", "UUID", "GenRandomUuid", "UtcDateTime", "utcnow"]

UUID = sa.Uuid(as_uuid=True)
"""Native uuid on Postgres; 32 hex characters on SQLite."""

JSONB = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TEXT_ARRAY = sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """`timestamp with time zone` on Postgres; on SQLite a naive UTC value read back as UTC.

    Values must be timezone-aware: a naive datetime is a bug that would shift by the
    server's offset, so it is refused rather than guessed.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a timestamptz column; use UTC-aware values")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite CURRENT_TIMESTAMP defaults come back as text
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class GenRandomUuid(FunctionElement[Any]):
    """Server-side random uuid default: gen_random_uuid() on Postgres, random hex on SQLite."""

    type = UUID
    inherit_cache = True
    name = "gen_random_uuid"


@compiles(GenRandomUuid, "postgresql")
def _gen_uuid_postgres(element: GenRandomUuid, compiler: SQLCompiler, **kw: Any) -> str:
    return "gen_random_uuid()"


@compiles(GenRandomUuid, "sqlite")
def _gen_uuid_sqlite(element: GenRandomUuid, compiler: SQLCompiler, **kw: Any) -> str:
    return "(lower(hex(randomblob(16))))"
