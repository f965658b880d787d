"""The ClickUp reconciliation job: load what was synced, compare, repair, record.

`reconcile_tenant()` reads the tenant's ClickUp configuration and the CRM accounts that
have a ClickUp task (`external_mappings`), runs `reconcile_accounts` on them, and stores
the run's figures in `sync_reconciliations` (the dashboard's sync accuracy comes from
there). `reconcile_all()` does it for every tenant with ClickUp configured, and
`run_reconciliation_loop()` repeats that on an interval for a worker to run. A run's
outbound calls are audited under `triggered_by` and flushed with the usage counters when
it ends, whatever the outcome.

ClickUp-side edits that are newer than the CRM record are written back to `accounts`
directly (name, industry, lead score): the reconciler is a repair, not a business
change, so it publishes no lifecycle events.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import sqlalchemy as sa

from orchestration.platforms.clickup import ClickUpAdapter
from orchestration.platforms.clickup_reconcile import ReconcileReport, reconcile_accounts
from orchestration.platforms.clickup_sync import ClickUpSyncSettings
from orchestration.platforms.config_store import list_tool_configs, load_tool_config
from orchestration.platforms.http_audit import outbound_caller
from orchestration.platforms.mappings import SqlMappingStore
from orchestration.platforms.resilience import DEFAULT_REGISTRY, ResilienceRegistry
from orchestration.platforms.usage import flush_counter
from shared.crypto import CredentialCipher
from shared.db.crm_tables import accounts
from shared.db.database import Database
from shared.db.orchestration_tables import sync_reconciliations
from shared.db.types import utcnow
from shared.errors import SwitchboardError

__all__ = [
    "ReconciliationRun",
    "SqlAccountWriter",
    "reconcile_all",
    "reconcile_tenant",
    "record_reconciliation",
    "run_reconciliation_loop",
]

log = logging.getLogger(__name__)

# Account columns a newer ClickUp value may overwrite; the other mapped fields
# (qualification_status) have no account column to write to.
_WRITABLE = ("name", "industry", "lead_score")


@dataclass(frozen=True)
class ReconciliationRun:
    """A stored run: the report plus when, for which tenant, started by whom."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    started_at: datetime
    finished_at: datetime
    triggered_by: str
    report: ReconcileReport

    @property
    def repaired(self) -> int:
        return sum(1 for d in self.report.drifts if d.repaired_in != "none")

    def as_dict(self) -> dict[str, Any]:
        report = self.report
        return {
            "id": str(self.id),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "triggered_by": self.triggered_by,
            "records": report.records,
            "fields_compared": report.fields_compared,
            "fields_matching": report.fields_matching,
            "drifted": len(report.drifts),
            "repaired": self.repaired,
            "resynced": report.resynced,
            "accuracy_pct": report.accuracy_pct,
            "drift_by_field": dict(Counter(d.field for d in report.drifts)),
        }


class SqlAccountWriter:
    """CrmFieldWriter on the `accounts` table of one tenant."""

    def __init__(self, db: Database, tenant_id: uuid.UUID) -> None:
        self.db = db
        self.tenant_id = tenant_id

    async def update_account_fields(self, account_id: str, changes: dict[str, Any]) -> None:
        values: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in _WRITABLE or value is None:
                continue
            if name == "lead_score":
                try:
                    score = float(value)
                except (TypeError, ValueError):
                    continue  # not a number in ClickUp: leave the CRM's score
                if not 0 <= score <= 100:
                    continue
                values[name] = score
            else:
                values[name] = str(value)
        if not values:
            return
        async with self.db.transaction() as conn:
            await conn.execute(
                sa.update(accounts)
                .where(
                    accounts.c.tenant_id == self.tenant_id,
                    accounts.c.id == uuid.UUID(account_id),
                )
                .values(**values, updated_at=utcnow())
            )


async def record_reconciliation(
    db: Database,
    tenant_id: uuid.UUID,
    report: ReconcileReport,
    *,
    started_at: datetime,
    finished_at: datetime,
    triggered_by: str,
    tool_name: str = "clickup",
) -> ReconciliationRun:
    run = ReconciliationRun(uuid.uuid4(), tenant_id, started_at, finished_at, triggered_by, report)
    figures = run.as_dict()
    async with db.transaction() as conn:
        await conn.execute(
            sa.insert(sync_reconciliations).values(
                id=run.id,
                tenant_id=tenant_id,
                tool_name=tool_name,
                started_at=started_at,
                finished_at=finished_at,
                records=report.records,
                fields_compared=report.fields_compared,
                fields_matching=report.fields_matching,
                drifted=figures["drifted"],
                repaired=figures["repaired"],
                resynced=report.resynced,
                accuracy_pct=report.accuracy_pct,
                triggered_by=triggered_by,
                drift_by_field=figures["drift_by_field"],
            )
        )
    return run


async def _synced_accounts(db: Database, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    mappings = await SqlMappingStore(db).all(tenant_id, "clickup")
    ids: list[uuid.UUID] = []
    for mapping in mappings:
        if mapping.crm_entity != "accounts":
            continue
        try:
            ids.append(uuid.UUID(mapping.crm_id))
        except ValueError:
            continue  # not an account id of ours
    if not ids:
        return []
    query = (
        sa.select(accounts)
        .where(accounts.c.tenant_id == tenant_id, accounts.c.id.in_(ids))
        .order_by(accounts.c.id)
    )
    async with db.engine.connect() as conn:
        return [dict(row) for row in (await conn.execute(query)).mappings()]


async def reconcile_tenant(
    db: Database,
    cipher: CredentialCipher,
    tenant_id: uuid.UUID,
    client: httpx.AsyncClient,
    *,
    triggered_by: str = "cli",
    registry: ResilienceRegistry = DEFAULT_REGISTRY,
) -> ReconciliationRun:
    """Reconcile every synced account of the tenant and store the run.

    Raises NotFoundError when ClickUp is not configured, ConfigError when its settings
    lack the list ids, PlatformError when ClickUp cannot be used (nothing is stored then).
    """
    config = await load_tool_config(db, cipher, tenant_id, "clickup")
    settings = ClickUpSyncSettings.from_settings(config.settings)
    mappings = SqlMappingStore(db)
    adapter = ClickUpAdapter(client, config, registry=registry, mappings=mappings)
    started = datetime.now(UTC)
    try:
        with outbound_caller(triggered_by):
            report = await reconcile_accounts(
                adapter,
                settings,
                mappings,
                tenant_id,
                await _synced_accounts(db, tenant_id),
                crm_writer=SqlAccountWriter(db, tenant_id),
            )
    finally:
        await flush_counter(db, tenant_id, "clickup", adapter.http.counter)
    return await record_reconciliation(
        db,
        tenant_id,
        report,
        started_at=started,
        finished_at=datetime.now(UTC),
        triggered_by=triggered_by,
    )


async def reconcile_all(
    db: Database,
    cipher: CredentialCipher,
    client: httpx.AsyncClient,
    *,
    triggered_by: str = "schedule",
    registry: ResilienceRegistry = DEFAULT_REGISTRY,
    skip_runs_within_s: float | None = None,
) -> dict[uuid.UUID, ReconciliationRun | str]:
    """One run per tenant with ClickUp configured; a tenant whose run fails (ClickUp down,
    settings incomplete) gets the reason instead, and the others still run. With
    `skip_runs_within_s`, a tenant reconciled that recently (by another worker, say) is
    skipped."""
    results: dict[uuid.UUID, ReconciliationRun | str] = {}
    tenants = [c.tenant_id for c in await list_tool_configs(db, cipher) if c.tool_name == "clickup"]
    if skip_runs_within_s is not None:
        recent = await _recently_reconciled(db, skip_runs_within_s)
        tenants = [t for t in tenants if t not in recent]
    for tenant_id in tenants:
        try:
            results[tenant_id] = await reconcile_tenant(
                db, cipher, tenant_id, client, triggered_by=triggered_by, registry=registry
            )
        except SwitchboardError as exc:
            log.warning("ClickUp reconciliation of tenant %s failed: %s", tenant_id, exc)
            results[tenant_id] = str(exc)
    return results


async def run_reconciliation_loop(
    db: Database,
    cipher: CredentialCipher,
    client: httpx.AsyncClient,
    *,
    interval_s: float = 3600.0,
    registry: ResilienceRegistry = DEFAULT_REGISTRY,
) -> None:
    """Reconcile every tenant every `interval_s` seconds until cancelled. Several workers
    may run this loop: a tenant another worker reconciled within the interval is skipped."""
    while True:
        try:
            await reconcile_all(
                db, cipher, client, registry=registry, skip_runs_within_s=interval_s * 0.9
            )
        except SwitchboardError as exc:  # e.g. the database is briefly unavailable
            log.warning("ClickUp reconciliation pass failed: %s", exc)
        await anyio.sleep(interval_s)


async def _recently_reconciled(db: Database, within_s: float) -> set[uuid.UUID]:
    since = utcnow() - timedelta(seconds=within_s)
    t = sync_reconciliations
    query = sa.select(t.c.tenant_id).where(t.c.tool_name == "clickup", t.c.finished_at >= since)
    async with db.engine.connect() as conn:
        return set((await conn.execute(query.distinct())).scalars())
