from __future__ import annotations

import pytest

from shared.db.url import mask_password, parse_database_url
from shared.errors import ConfigError


def test_plain_supabase_postgres_url_gets_the_async_driver() -> None:
    target = parse_database_url(
        "postgresql://postgres:secret@db.abc.supabase.co:5432/postgres?sslmode=require"
    )
    assert target.dialect == "postgresql"
    assert target.async_url.drivername == "postgresql+asyncpg"
    assert target.async_url.query == {"ssl": "require"}
    assert target.async_url.password == "secret"


def test_postgres_scheme_alias_is_accepted() -> None:
    assert parse_database_url("postgres://u:p@h/db").dialect == "postgresql"


def test_sqlite_path_is_expanded(tmp_path: object) -> None:
    target = parse_database_url("sqlite:///~/x/store.sqlite3")
    assert target.is_sqlite
    assert target.sqlite_path is not None and "~" not in str(target.sqlite_path)
    assert target.async_url.drivername == "sqlite+aiosqlite"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("not a url", "is not a database URL"),
        ("mysql://u:p@h/db", "unsupported scheme 'mysql'"),
        ("sqlite://", "must name a SQLite file"),
        ("sqlite:///:memory:", "must name a SQLite file"),
        ("postgresql:///", "needs a host and a database"),
    ],
)
def test_malformed_urls_say_what_to_use(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_database_url(raw)
    assert "postgresql://user:password@host" in str(caught.value)


def test_mask_password_hides_only_the_password() -> None:
    masked = mask_password("postgresql://user:hunter2@host:5432/db")
    assert "hunter2" not in masked
    assert masked == "postgresql://user:***@host:5432/db"
    assert mask_password("sqlite:///a.db") == "sqlite:///a.db"
