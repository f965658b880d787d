"""The step engine's `ClickUpTasks` and `ApifyRunner` services, backed by the adapters.

`create_clickup_task` steps call `ClickUpTaskService.create_task(task, idempotency_key=)`;
the key becomes a tag on the task, looked up before creating, so a retried step (after a
crash, a timeout, or a 5xx whose outcome is unknown) finds the task it made instead of
making a second one.
"""

from __future__ import annotations

import hashlib
from typing import Any

from orchestration.platforms.apify import ApifyAdapter
from orchestration.platforms.clickup import ClickUpAdapter
from orchestration.platforms.clickup_sync import FIELD_MAPPINGS, PROJECT_LISTS, ClickUpSyncSettings
from orchestration.platforms.jsonshape import as_dict, text

__all__ = ["ApifyRunService", "ClickUpTaskService", "step_tag"]


def step_tag(idempotency_key: str) -> str:
    return "sb-step-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]


class ClickUpTaskService:
    """Implements orchestration.workflows.services.ClickUpTasks."""

    def __init__(self, adapter: ClickUpAdapter, settings: ClickUpSyncSettings) -> None:
        self.adapter = adapter
        self.settings = settings

    def _list_id(self, project: str) -> str:
        key = project.strip().lower().replace(" ", "_").replace("-", "_")
        if key in PROJECT_LISTS:
            return self.settings.list_id(key)
        return project  # already a ClickUp list id

    async def create_task(self, task: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        """`task`: project (a spec list name or a list id), name, description, assignee,
        custom_fields ({crm_field: value} through the spec's field mappings), customer_id."""
        list_id = self._list_id(str(task.get("project") or "qualified_prospects"))
        tag = step_tag(idempotency_key)
        found = await self.adapter.find_tasks_by_tag(list_id, tag)
        if found:
            existing = found[0]
            return {
                "task_id": existing.get("id"),
                "url": existing.get("url"),
                "list_id": list_id,
                "created": False,
            }
        values = as_dict(task.get("custom_fields"))
        custom: list[dict[str, Any]] = []
        for mapping in FIELD_MAPPINGS:
            field_id = self.settings.field_ids.get(mapping.clickup_field_id)
            value = mapping.value_from(values)
            if field_id and value is not None:
                custom.append(
                    {
                        "id": field_id,
                        "value": await self.adapter.field_value(list_id, field_id, value),
                    }
                )
        assignee = text(task.get("assignee"))
        if assignee and assignee.isdigit():
            assignees = [int(assignee)]
        else:
            assignees = self.settings.assignees_for(text(values.get("industry")))
        body: dict[str, Any] = {
            "name": text(task.get("name")) or "Follow up",
            "description": text(task.get("description")) or "",
            "tags": [tag],
            "assignees": assignees,
            "custom_fields": custom,
        }
        created = await self.adapter.create_task(list_id, body)
        return {
            "task_id": created.get("id"),
            "url": created.get("url"),
            "list_id": list_id,
            "created": True,
        }


class ApifyRunService:
    """Implements orchestration.workflows.services.ApifyRunner: starts the run and answers
    at once (the run id and dataset id); `collect_prospects` follows it later.

    Apify has no idempotency key for run starts; the adapter never re-sends a start that
    may have reached Apify, so a retry after an unknown outcome is surfaced, not repeated.
    """

    def __init__(self, adapter: ApifyAdapter) -> None:
        self.adapter = adapter

    async def run_actor(
        self, actor: str, run_input: dict[str, Any], *, idempotency_key: str
    ) -> dict[str, Any]:
        run = await self.adapter.start_run(actor, run_input)
        return {
            "run_id": run.get("id"),
            "status": run.get("status"),
            "dataset_id": run.get("defaultDatasetId"),
            "idempotency_key": idempotency_key,
        }
