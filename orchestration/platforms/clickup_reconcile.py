"""Reconciliation: CRM accounts vs their ClickUp tasks, field by field, drift repaired.

The CRM is the source of truth, unless the task changed after the CRM record did (a
person edited it in ClickUp): then the ClickUp value is written back to the CRM through
a `CrmFieldWriter`. Accuracy is the share of compared fields that already agreed,
as a percentage (the spec asks for 99%+). A record without a mapping, or whose task
is gone, is synced afresh (ClickUpSync) and counted as drift.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from orchestration.platforms.clickup import ClickUpAdapter
from orchestration.platforms.clickup_sync import FIELD_MAPPINGS, ClickUpSync, ClickUpSyncSettings
from orchestration.platforms.errors import PlatformNotFoundError
from orchestration.platforms.jsonshape import as_dict, dicts, text
from orchestration.platforms.mappings import MappingStore

__all__ = ["CrmFieldWriter", "Drift", "ReconcileReport", "reconcile_accounts"]


class CrmFieldWriter(Protocol):
    """Writes ClickUp-side edits back to the CRM (the CRM repository implements it)."""

    async def update_account_fields(self, account_id: str, changes: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Drift:
    crm_id: str
    field: str
    crm_value: Any
    clickup_value: Any
    repaired_in: str  # clickup | crm | none (ClickUp newer, no CRM writer given)


@dataclass
class ReconcileReport:
    records: int = 0
    fields_compared: int = 0
    fields_matching: int = 0
    resynced: int = 0  # records without a mapping or whose task was gone
    drifts: list[Drift] = field(default_factory=list[Drift])

    @property
    def accuracy_pct(self) -> float:
        if self.fields_compared == 0:
            return 100.0
        return round(100.0 * self.fields_matching / self.fields_compared, 2)

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "fields_compared": self.fields_compared,
            "fields_matching": self.fields_matching,
            "accuracy_pct": self.accuracy_pct,
            "resynced": self.resynced,
            "drifts": [d.__dict__ for d in self.drifts],
        }


def _updated_ms(value: object) -> int | None:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(aware.timestamp() * 1000)
    raw = text(value)
    return int(raw) if raw and raw.isdigit() else None


def _crm_value_of(field_def: Mapping[str, Any], value: Any) -> Any:
    """A task's field value in CRM terms: a drop-down's option id (or orderindex) becomes
    its option name; other values pass through."""
    if field_def.get("type") != "drop_down" or value is None:
        return value
    for option in dicts(as_dict(field_def.get("type_config")).get("options")):
        if value in (option.get("id"), option.get("orderindex")):
            return option.get("name")
    return value


def _same(crm: Any, clickup: Any) -> bool:
    if isinstance(crm, int | float) and isinstance(clickup, int | float | str):
        try:
            return float(crm) == float(clickup)
        except ValueError:
            return False
    if isinstance(crm, str) and isinstance(clickup, str):
        return crm.strip().lower() == clickup.strip().lower()
    return crm == clickup


async def reconcile_accounts(
    adapter: ClickUpAdapter,
    settings: ClickUpSyncSettings,
    mappings: MappingStore,
    tenant_id: uuid.UUID,
    accounts: Sequence[Mapping[str, Any]],
    *,
    crm_writer: CrmFieldWriter | None = None,
) -> ReconcileReport:
    """Compare and repair; `accounts` are CRM rows with `id`, `updated_at` and the mapped
    fields (lead_score, qualification_status, industry) plus `name`."""
    report = ReconcileReport()
    sync = ClickUpSync(adapter, settings, mappings)
    for account in accounts:
        report.records += 1
        crm_id = str(account["id"])
        mapping = await mappings.get(tenant_id, "clickup", "accounts", crm_id)
        task: dict[str, Any] | None = None
        if mapping is not None:
            try:
                task = await adapter.get_task(mapping.external_id)
            except PlatformNotFoundError:
                task = None
        if task is None:
            await sync.sync_account(tenant_id, dict(account), force=True)
            report.resynced += 1
            report.fields_compared += 1
            report.drifts.append(Drift(crm_id, "task", crm_id, None, "clickup"))
            continue
        list_id = str(as_dict(task.get("list")).get("id", ""))
        task_fields = {str(f.get("id")): f for f in dicts(task.get("custom_fields"))}
        clickup_newer = (_updated_ms(task.get("date_updated")) or 0) > (
            _updated_ms(account.get("updated_at")) or 0
        )
        comparisons: list[tuple[str, Any, Any, str | None]] = [
            ("name", account.get("name"), task.get("name"), None)
        ]
        for fm in FIELD_MAPPINGS:
            field_id = settings.field_ids.get(fm.clickup_field_id)
            if not field_id:
                continue
            definition = task_fields.get(field_id, {"id": field_id})
            task_value = _crm_value_of(definition, definition.get("value"))
            comparisons.append((fm.crm_field, fm.value_from(account), task_value, field_id))
        crm_changes: dict[str, Any] = {}
        for name, crm_value, clickup_value, field_id in comparisons:
            report.fields_compared += 1
            if _same(crm_value, clickup_value):
                report.fields_matching += 1
                continue
            if clickup_newer and clickup_value is not None:
                if crm_writer is not None:
                    crm_changes[name] = clickup_value
                repaired = "crm" if crm_writer is not None else "none"
            else:
                if field_id is None:
                    await adapter.update_task(str(task["id"]), {"name": crm_value})
                else:
                    value = await adapter.field_value(list_id, field_id, crm_value)
                    await adapter.set_custom_field(str(task["id"]), field_id, value)
                repaired = "clickup"
            report.drifts.append(Drift(crm_id, name, crm_value, clickup_value, repaired))
        if crm_changes and crm_writer is not None:
            await crm_writer.update_account_fields(crm_id, crm_changes)
    return report
