from __future__ import annotations

import sqlalchemy as sa

from shared.audit import AuditEntry, argument_digest, record_audit
from shared.db.database import Database
from shared.db.schema import audit_log
from shared.tenants import create_tenant


def test_digest_is_canonical_and_hides_values() -> None:
    first = argument_digest({"b": 2, "a": "secret-value"})
    assert first == argument_digest({"a": "secret-value", "b": 2})
    assert first != argument_digest({"a": "other", "b": 2})
    assert "secret-value" not in first


async def test_audit_row_records_who_what_and_outcome(sqlite_db: Database) -> None:
    tenant = await create_tenant(sqlite_db, "acme")
    await record_audit(
        sqlite_db,
        AuditEntry(
            tenant_id=tenant.id,
            actor="key:abc",
            actor_role="operator",
            action="update_lifecycle_stage",
            outcome="ok",
            arguments={"account_id": "1", "stage": "qualified"},
            duration_ms=12,
        ),
    )
    async with sqlite_db.engine.connect() as conn:
        row = (await conn.execute(sa.select(audit_log))).mappings().one()
    assert row["action"] == "update_lifecycle_stage"
    assert row["argument_digest"] == argument_digest({"account_id": "1", "stage": "qualified"})
    assert row["tenant_id"] == tenant.id
    assert row["occurred_at"] is not None
