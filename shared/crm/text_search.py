"""Free-text search over account names and notes, spelled so the trigram index serves it.

The meaning is the same everywhere: a case-insensitive substring of `name` or `notes`.
Migration 0003 indexes both columns by trigrams (pg_trgm on Postgres, an FTS5 trigram table
on SQLite). Postgres's planner uses its index for a plain ILIKE on its own; SQLite only
consults the FTS table when asked, so there the condition goes through it. A trigram index
cannot answer fewer than three characters, so a shorter text is matched by a scan.
"""

from __future__ import annotations

import sqlalchemy as sa

from shared.crm.sql_queries import like_pattern
from shared.db.crm_tables import accounts
from shared.db.types import UUID

__all__ = ["MIN_INDEXED_TEXT", "account_text_condition", "fts_phrase"]

MIN_INDEXED_TEXT = 3  # characters: one trigram

_text_keys = sa.table(
    "accounts_text_keys", sa.column("text_rowid", sa.Integer()), sa.column("account_id", UUID)
)
_text_index = sa.table(
    "accounts_text", sa.column("rowid", sa.Integer()), sa.column("accounts_text", sa.Text())
)


def fts_phrase(text: str) -> str:
    """`text` as one FTS5 phrase: inside double quotes nothing is syntax but a doubled quote."""
    return '"' + text.replace('"', '""') + '"'


def account_text_condition(text: str, *, sqlite: bool) -> sa.ColumnElement[bool]:
    columns = (accounts.c.name, accounts.c.notes)
    if not sqlite:
        pattern = like_pattern(text)
        return sa.or_(*(column.ilike(pattern, escape="\\") for column in columns))
    if len(text) < MIN_INDEXED_TEXT:
        # SQLite's LIKE already ignores ASCII case; lower() on every row would cost more.
        pattern = like_pattern(text)
        return sa.or_(*(column.like(pattern, escape="\\") for column in columns))
    matching_rows = sa.select(_text_index.c.rowid).where(
        _text_index.c.accounts_text.op("MATCH")(fts_phrase(text))
    )
    matching_accounts = sa.select(_text_keys.c.account_id).where(
        _text_keys.c.text_rowid.in_(matching_rows)
    )
    return accounts.c.id.in_(matching_accounts)
