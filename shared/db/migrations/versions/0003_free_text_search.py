"""free-text search over account names and notes, served by an index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 17:10:00

`search_prospects(text=...)` is a case-insensitive substring match over `accounts.name` and
`accounts.notes`. Without an index that is a scan of every account of the tenant: fine at a
few thousand, hundreds of milliseconds at a million. Both stores get a trigram index, which
answers substring queries of three or more characters exactly (no stemming, no ranking: the
same rows the plain scan would find).

- Postgres: `pg_trgm` GIN indexes on name and notes; the `ILIKE '%text%'` of the sql source
  and the `~*` of the supabase source both use them. `pg_trgm` is a trusted extension
  (Postgres 13+), so a database owner may create it; where the role may not (an existing CRM
  with a locked-down role), the migration goes on without the indexes and search still works,
  as a scan.
- SQLite: an FTS5 table with the trigram tokenizer, kept in step with `accounts` by
  triggers. Its rows are keyed through `accounts_text_keys`, a table whose INTEGER PRIMARY
  KEY is the FTS rowid: the implicit rowid of `accounts` (whose key is a UUID) is not
  stable across VACUUM, so it cannot be the link.

Neither object is in `shared.db.schema.metadata`: they are indexes in all but name, and the
migration test compares everything else.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Objects this migration adds to SQLite; tests/unit/shared/test_migrations.py ignores them.
SQLITE_TEXT_TABLES = ("accounts_text", "accounts_text_keys")

# Two statements: asyncpg runs one command per execute.
_POSTGRES_UPGRADE = (
    """
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
    RAISE NOTICE 'pg_trgm is not available (%); free-text search will scan', SQLERRM;
END $$
""",
    """
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX IF NOT EXISTS ix_accounts_name_trgm
            ON accounts USING gin (name gin_trgm_ops);
        CREATE INDEX IF NOT EXISTS ix_accounts_notes_trgm
            ON accounts USING gin (notes gin_trgm_ops);
    END IF;
END $$
""",
)

_SQLITE_UPGRADE = (
    "CREATE TABLE accounts_text_keys ("
    " text_rowid INTEGER PRIMARY KEY, account_id CHAR(32) NOT NULL UNIQUE)",
    "CREATE VIRTUAL TABLE accounts_text USING fts5(name, notes, tokenize = 'trigram')",
    # One key row per account, then the FTS row under that key's rowid.
    """CREATE TRIGGER accounts_text_insert AFTER INSERT ON accounts BEGIN
        INSERT INTO accounts_text_keys (account_id) VALUES (new.id);
        INSERT INTO accounts_text (rowid, name, notes)
            VALUES (last_insert_rowid(), new.name, new.notes);
    END""",
    """CREATE TRIGGER accounts_text_update AFTER UPDATE OF name, notes ON accounts BEGIN
        UPDATE accounts_text SET name = new.name, notes = new.notes
            WHERE rowid = (SELECT text_rowid FROM accounts_text_keys WHERE account_id = new.id);
    END""",
    """CREATE TRIGGER accounts_text_delete AFTER DELETE ON accounts BEGIN
        DELETE FROM accounts_text
            WHERE rowid = (SELECT text_rowid FROM accounts_text_keys WHERE account_id = old.id);
        DELETE FROM accounts_text_keys WHERE account_id = old.id;
    END""",
    # Accounts that existed before this migration.
    "INSERT INTO accounts_text_keys (account_id) SELECT id FROM accounts",
    """INSERT INTO accounts_text (rowid, name, notes)
        SELECT k.text_rowid, a.name, a.notes
        FROM accounts_text_keys AS k JOIN accounts AS a ON a.id = k.account_id""",
)


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        statements = _POSTGRES_UPGRADE
    else:
        statements = _SQLITE_UPGRADE
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_accounts_notes_trgm")
        op.execute("DROP INDEX IF EXISTS ix_accounts_name_trgm")
        return
    for trigger in ("accounts_text_insert", "accounts_text_update", "accounts_text_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    for table in SQLITE_TEXT_TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")
