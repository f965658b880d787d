"""CRM account -> ClickUp task: the spec's project lists, field mappings and assignments.

Idempotency: every task we create carries a tag derived from (tenant, CRM record). A
sync first asks the mapping table; without a mapping (a first sync, or a crash between
ClickUp's 200 and our mapping write) it looks the tag up in the target list and adopts
the task it finds instead of creating a second one.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from orchestration.platforms.errors import PlatformNotFoundError, PlatformRequestError
from orchestration.platforms.jsonshape import as_dict, as_list, dicts
from orchestration.platforms.mappings import ExternalMapping, MappingStore
from shared.errors import ConfigError

if TYPE_CHECKING:
    from orchestration.platforms.clickup import ClickUpAdapter

__all__ = [
    "FIELD_MAPPINGS",
    "PROJECT_LISTS",
    "ClickUpFieldMapping",
    "ClickUpSync",
    "ClickUpSyncSettings",
    "SyncOutcome",
    "idempotency_tag",
    "list_for_stage",
]

# The spec's project structure: list key -> what it holds.
PROJECT_LISTS = {
    "qualified_prospects": "Qualified Prospects",
    "active_customers": "Active Customers",
    "at_risk_customers": "At-Risk Customers",
    "completed_deals": "Completed Deals",
}

_STAGE_TO_LIST = {
    "prospect": "qualified_prospects",
    "lead": "qualified_prospects",
    "qualified": "qualified_prospects",
    "customer": "active_customers",
    "at_risk": "at_risk_customers",
    "churned": "at_risk_customers",
}


def _round_score(value: Any) -> Any:
    return round(float(value)) if isinstance(value, int | float) else value


@dataclass(frozen=True)
class ClickUpFieldMapping:
    """The spec's ClickUpFieldMapping; `clickup_field_id` is a placeholder key that the
    tenant's settings (`field_ids`) resolve to the real field id of their lists."""

    crm_field: str
    clickup_field_id: str
    data_transformation: Callable[[Any], Any] | None = None

    def value_from(self, record: Mapping[str, Any]) -> Any:
        value = record.get(self.crm_field)
        if value is not None and self.data_transformation is not None:
            value = self.data_transformation(value)
        return value


FIELD_MAPPINGS: tuple[ClickUpFieldMapping, ...] = (
    ClickUpFieldMapping("lead_score", "lead_score_field", _round_score),
    ClickUpFieldMapping("qualification_status", "status_field"),
    ClickUpFieldMapping("industry", "industry_field"),
)


def list_for_stage(lifecycle_stage: str | None, event_type: str | None = None) -> str:
    if event_type == "deal_closed":
        return "completed_deals"
    return _STAGE_TO_LIST.get(lifecycle_stage or "prospect", "qualified_prospects")


def idempotency_tag(tenant_id: uuid.UUID, crm_entity: str, crm_id: str) -> str:
    digest = hashlib.sha256(f"{tenant_id}:{crm_entity}:{crm_id}".encode()).hexdigest()
    return f"sb-{digest[:16]}"


@dataclass(frozen=True)
class ClickUpSyncSettings:
    """From `external_tool_configs.settings` (and a definition's `platform_refs.clickup`):

    `{"lists": {"qualified_prospects": "901", ...}, "field_ids": {"lead_score_field":
    "uuid", ...}, "assignees_by_industry": {"dentist": [123], "default": [456]},
    "reminder_days": 3, "stage_statuses": {"at_risk": "at risk"}}`
    """

    lists: dict[str, str]
    field_ids: dict[str, str] = field(default_factory=dict[str, str])
    assignees_by_industry: dict[str, list[int]] = field(default_factory=dict[str, list[int]])
    reminder_days: float | None = 3
    stage_statuses: dict[str, str] = field(default_factory=dict[str, str])

    @classmethod
    def from_settings(cls, raw: Mapping[str, Any]) -> ClickUpSyncSettings:
        lists = as_dict(raw.get("lists"))
        if not lists:
            raise ConfigError(
                "ClickUp settings have no 'lists'; set the list ids of "
                + ", ".join(PROJECT_LISTS)
                + " in the clickup tool settings"
            )
        assignees: dict[str, list[int]] = {}
        for industry, ids in as_dict(raw.get("assignees_by_industry")).items():
            assignees[industry.lower()] = [int(i) for i in as_list(ids)]
        reminder = raw.get("reminder_days", 3)
        return cls(
            lists={k: str(v) for k, v in lists.items()},
            field_ids={k: str(v) for k, v in as_dict(raw.get("field_ids")).items()},
            assignees_by_industry=assignees,
            reminder_days=float(reminder) if reminder is not None else None,
            stage_statuses={k: str(v) for k, v in as_dict(raw.get("stage_statuses")).items()},
        )

    def list_id(self, key: str) -> str:
        if key not in self.lists:
            raise ConfigError(
                f"ClickUp settings have no list id for '{key}' ({PROJECT_LISTS.get(key, key)}); "
                "add it under settings.lists"
            )
        return self.lists[key]

    def assignees_for(self, industry: str | None) -> list[int]:
        key = (industry or "").strip().lower()
        return self.assignees_by_industry.get(key) or self.assignees_by_industry.get("default", [])


@dataclass(frozen=True)
class SyncOutcome:
    task_id: str
    url: str | None
    action: str  # created | adopted | updated | unchanged
    list_id: str
    moved_by: str | None = None  # list | status, when the lifecycle stage moved the task
    reminder_task_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ClickUpSync:
    def __init__(
        self,
        adapter: ClickUpAdapter,
        settings: ClickUpSyncSettings,
        mappings: MappingStore | None = None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.adapter = adapter
        self.settings = settings
        self.mappings = mappings
        self._now = now

    def custom_fields(self, record: Mapping[str, Any]) -> list[tuple[str, Any]]:
        """(real field id, transformed value) for each mapping with a value and a field id."""
        fields: list[tuple[str, Any]] = []
        for mapping in FIELD_MAPPINGS:
            value = mapping.value_from(record)
            field_id = self.settings.field_ids.get(mapping.clickup_field_id)
            if value is not None and field_id:
                fields.append((field_id, value))
        return fields

    def desired(self, account: Mapping[str, Any], list_key: str) -> dict[str, Any]:
        lines = [
            f"{label}: {account[key]}"
            for key, label in (
                ("industry", "Industry"),
                ("city", "City"),
                ("phone", "Phone"),
                ("website", "Website"),
                ("lead_score", "Lead score"),
                ("gmb_rating", "Google rating"),
            )
            if account.get(key) is not None
        ]
        return {
            "name": str(account.get("name") or "Unnamed account"),
            "description": "\n".join(lines),
            "assignees": self.settings.assignees_for(account.get("industry")),
            "fields": [[fid, value] for fid, value in self.custom_fields(account)],
            "list": list_key,
        }

    async def sync_account(
        self,
        tenant_id: uuid.UUID,
        account: dict[str, Any],
        *,
        event_type: str | None = None,
        force: bool = False,
    ) -> SyncOutcome:
        """Create or update the account's task. `force` skips the "unchanged since the last
        sync" shortcut (reconciliation uses it when the task was found missing)."""
        crm_id = str(account.get("id") or "")
        if not crm_id:
            raise PlatformRequestError(
                "the account to sync has no 'id'; pass the CRM account record",
                platform="clickup",
            )
        list_key = list_for_stage(account.get("lifecycle_stage"), event_type)
        list_id = self.settings.list_id(list_key)
        desired = self.desired(account, list_key)
        content_hash = hashlib.sha256(
            json.dumps(desired, sort_keys=True, default=str).encode()
        ).hexdigest()
        tag = idempotency_tag(tenant_id, "accounts", crm_id)

        existing = (
            await self.mappings.get(tenant_id, "clickup", "accounts", crm_id)
            if self.mappings
            else None
        )
        if not force and existing is not None and existing.content_hash == content_hash:
            return SyncOutcome(existing.external_id, existing.external_url, "unchanged", list_id)

        task: dict[str, Any] | None = None
        action = "updated"
        if existing is not None:
            try:
                task = await self.adapter.get_task(existing.external_id)
            except PlatformNotFoundError:
                task = None  # deleted in ClickUp: make it again
        if task is None:
            found = await self.adapter.find_tasks_by_tag(list_id, tag)
            if found:
                task, action = found[0], "adopted"
        reminder_id: str | None = None
        moved_by: str | None = None
        if task is None:
            task = await self._create(list_id, desired, tag)
            action = "created"
            reminder_id = await self._create_reminder(list_id, task, tag)
        else:
            moved_by = await self._update(task, desired, list_id, account.get("lifecycle_stage"))
        task_id = str(task["id"])
        url = task.get("url")
        if self.mappings is not None:
            await self.mappings.put(
                ExternalMapping(
                    tenant_id=tenant_id,
                    tool_name="clickup",
                    crm_entity="accounts",
                    crm_id=crm_id,
                    external_id=task_id,
                    external_url=str(url) if url else None,
                    content_hash=content_hash,
                    last_synced_at=self._now(),
                )
            )
        return SyncOutcome(
            task_id, str(url) if url else None, action, list_id, moved_by, reminder_id
        )

    async def _create(self, list_id: str, desired: Mapping[str, Any], tag: str) -> dict[str, Any]:
        custom = [
            {"id": fid, "value": await self.adapter.field_value(list_id, fid, value)}
            for fid, value in desired["fields"]
        ]
        body: dict[str, Any] = {
            "name": desired["name"],
            "description": desired["description"],
            "tags": [tag],
            "assignees": desired["assignees"],
            "custom_fields": custom,
        }
        return await self.adapter.create_task(list_id, body)

    async def _create_reminder(self, list_id: str, task: Mapping[str, Any], tag: str) -> str | None:
        """A follow-up subtask due in `reminder_days` (ClickUp notifies its assignees)."""
        if self.settings.reminder_days is None:
            return None
        due = self._now() + timedelta(days=self.settings.reminder_days)
        reminder = await self.adapter.create_task(
            list_id,
            {
                "name": f"Follow up: {task.get('name', '')}",
                "parent": task["id"],
                "tags": [f"{tag}-followup"],
                "assignees": [a["id"] for a in dicts(task.get("assignees")) if "id" in a],
                "due_date": int(due.timestamp() * 1000),
                "due_date_time": False,
            },
        )
        return str(reminder["id"])

    async def _update(
        self,
        task: Mapping[str, Any],
        desired: Mapping[str, Any],
        list_id: str,
        stage: str | None,
    ) -> str | None:
        task_id = str(task["id"])
        current = {a.get("id") for a in dicts(task.get("assignees"))}
        add = [a for a in desired["assignees"] if a not in current]
        changes: dict[str, Any] = {"name": desired["name"], "description": desired["description"]}
        if add:
            changes["assignees"] = {"add": add, "rem": []}
        await self.adapter.update_task(task_id, changes)
        home = str(as_dict(task.get("list")).get("id", ""))
        for fid, value in desired["fields"]:
            await self.adapter.set_custom_field(
                task_id, fid, await self.adapter.field_value(home or list_id, fid, value)
            )
        locations = {str(loc.get("id")) for loc in dicts(task.get("locations"))}
        if list_id == home or list_id in locations:
            return None
        try:
            await self.adapter.add_task_to_list(list_id, task_id)
            return "list"
        except PlatformRequestError:
            # Multiple lists is a plan/ClickApp feature: say the stage with a status instead.
            status = self.settings.stage_statuses.get(stage or "", stage or "")
            if not status:
                raise
            await self.adapter.update_task(task_id, {"status": status})
            return "status"
