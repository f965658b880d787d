"""Turning the database URL a user pastes into the async driver URL SQLAlchemy needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from shared.errors import ConfigError

__all__ = ["DatabaseTarget", "mask_password", "parse_database_url"]

_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+asyncpg", "postgresql+psycopg"}
_SQLITE_SCHEMES = {"sqlite", "sqlite+aiosqlite"}


@dataclass(frozen=True)
class DatabaseTarget:
    """A validated database location: which dialect, and the async URL to connect with."""

    dialect: str  # "sqlite" | "postgresql"
    async_url: URL
    sqlite_path: Path | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"


def parse_database_url(raw: str) -> DatabaseTarget:
    """Accept `postgresql://...` as Supabase shows it, or `sqlite:///path`.

    Raises ConfigError with the accepted forms when the URL cannot be used.
    """
    text = raw.strip()
    hint = "use postgresql://user:password@host:5432/dbname or sqlite:///path/to/file.sqlite3"
    try:
        url = make_url(text)
    except ArgumentError:
        raise ConfigError(f"SWITCHBOARD_DATABASE_URL is not a database URL; {hint}") from None
    scheme = url.drivername
    if scheme in _SQLITE_SCHEMES:
        if not url.database or url.database == ":memory:":
            raise ConfigError(
                "SWITCHBOARD_DATABASE_URL must name a SQLite file (an in-memory database "
                f"would vanish between commands); {hint}"
            )
        path = Path(url.database).expanduser()
        return DatabaseTarget(
            "sqlite", url.set(drivername="sqlite+aiosqlite", database=str(path)), path
        )
    if scheme in _POSTGRES_SCHEMES:
        if not url.host or not url.database:
            raise ConfigError(f"SWITCHBOARD_DATABASE_URL needs a host and a database; {hint}")
        # asyncpg takes sslmode as `ssl`; Supabase's strings often carry sslmode=require.
        query = dict(url.query)
        sslmode = query.pop("sslmode", None)
        if sslmode is not None:
            query["ssl"] = sslmode
        return DatabaseTarget("postgresql", url.set(drivername="postgresql+asyncpg", query=query))
    raise ConfigError(f"SWITCHBOARD_DATABASE_URL uses an unsupported scheme '{scheme}'; {hint}")


def mask_password(raw: str) -> str:
    """The URL with its password replaced by '***', for display."""
    try:
        url = make_url(raw.strip())
    except ArgumentError:
        return "<unparseable URL>"
    if url.password is None:
        return raw
    return url.render_as_string(hide_password=True)
