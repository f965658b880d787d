"""audit_log is append-only: the store refuses to change a recorded row

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 17:30:00

No Switchboard code updates an audit row, and none should: a trigger makes the store refuse
`UPDATE` on `audit_log` for every role, the table owner included (Postgres and SQLite), and
`TRUNCATE` (Postgres). Deleting rows stays possible, for two deliberate operations only:
deleting a tenant (its rows cascade) and `db seed --replace` removing earlier demo tenants.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "audit_log is append-only: recorded rows cannot be changed"

_POSTGRES_UPGRADE = (
    f"""
CREATE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = public, pg_temp
AS $fn$
BEGIN
    RAISE EXCEPTION '{MESSAGE} (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$fn$
""",
    """
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change()
""",
    """
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change()
""",
)
_SQLITE_UPGRADE = (
    f"""
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, '{MESSAGE}');
END
""",
)


def upgrade() -> None:
    postgres = op.get_context().dialect.name == "postgresql"
    for statement in _POSTGRES_UPGRADE if postgres else _SQLITE_UPGRADE:
        op.execute(statement)


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER IF EXISTS audit_log_no_update"
        + (" ON audit_log" if op.get_context().dialect.name == "postgresql" else "")
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_refuse_change()")
