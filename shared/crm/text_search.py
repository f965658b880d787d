"""Free-text search over account names and notes, spelled so the trigram index serves it.

The meaning is the same everywhere: a case-insensitive substring of `name` or `notes`.
Migration 0003 indexes both columns by trigrams (pg_trgm on Postgres, an FTS5 trigram table
on SQLite). Postgres's planner uses its index for a plain ILIKE on its own; SQLite only
consults the FTS table when asked, so there the condition goes through it. A trigram index
cannot answer fewer than three characters, so a shorter text is matched by a scan.

The condition takes its text as a bind parameter, so one statement serves every text of the
same kind (`text_match`).
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa

from shared.crm.sql_queries import like_pattern
from shared.db.crm_tables import accounts
from shared.db.types import UUID

__all__ = [
    "MIN_INDEXED_TEXT",
    "TextMatch",
    "account_text_condition",
    "fts_phrase",
    "text_match",
]

MIN_INDEXED_TEXT = 3  # characters: one trigram

# ilike: Postgres (its trigram index serves ILIKE); like: SQLite, too short for its index;
# fts: SQLite through its FTS5 trigram table.
TextMatch = Literal["ilike", "like", "fts"]

_text_keys = sa.table(
    "accounts_text_keys", sa.column("text_rowid", sa.Integer()), sa.column("account_id", UUID)
)
_text_index = sa.table(
    "accounts_text", sa.column("rowid", sa.Integer()), sa.column("accounts_text", sa.Text())
)


def fts_phrase(text: str) -> str:
    """`text` as one FTS5 phrase: inside double quotes nothing is syntax but a doubled quote."""
    return '"' + text.replace('"', '""') + '"'


def text_match(text: str, *, sqlite: bool) -> tuple[TextMatch, str]:
    """How `text` is matched, and the value to bind for it."""
    if not sqlite:
        return "ilike", like_pattern(text)
    if len(text) < MIN_INDEXED_TEXT:
        # SQLite's LIKE already ignores ASCII case; lower() on every row would cost more.
        return "like", like_pattern(text)
    return "fts", fts_phrase(text)


def account_text_condition(
    match: TextMatch, value: sa.ColumnElement[str]
) -> sa.ColumnElement[bool]:
    """Accounts whose name or notes hold the text; `value` is what `text_match` returned."""
    columns = (accounts.c.name, accounts.c.notes)
    if match == "ilike":
        return sa.or_(*(column.ilike(value, escape="\\") for column in columns))
    if match == "like":
        return sa.or_(*(column.like(value, escape="\\") for column in columns))
    matching_rows = sa.select(_text_index.c.rowid).where(
        _text_index.c.accounts_text.op("MATCH")(value)
    )
    matching_accounts = sa.select(_text_keys.c.account_id).where(
        _text_keys.c.text_rowid.in_(matching_rows)
    )
    return accounts.c.id.in_(matching_accounts)
