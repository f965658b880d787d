"""Workflow definitions in workflow_definitions: save (validated, versioned), read, list, toggle.

A definition's identity is (tenant, name). Saving content that differs from what is stored
bumps `version`; saving the same content again changes nothing. Each change is written to
the audit log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from orchestration.workflows.definition import WorkflowDefinition, parse_definition
from shared.audit import AuditEntry, record_audit
from shared.db.database import Database
from shared.db.orchestration_tables import workflow_definitions
from shared.db.types import utcnow
from shared.errors import NotFoundError

__all__ = [
    "SaveResult",
    "StoredDefinition",
    "changes_seen",
    "definition_from_row",
    "delete_definition",
    "get_definition",
    "list_definitions",
    "load_active_definitions",
    "save_definition",
    "save_document",
    "set_active",
]

_t = workflow_definitions

_changes = 0  # definitions saved, toggled or deleted by this process


def changes_seen() -> int:
    """How many definition changes this process has committed: a cache of definitions
    loaded at another count is out of date (orchestration.workflows.definition_cache)."""
    return _changes


def _changed() -> None:
    global _changes
    _changes += 1


@dataclass(frozen=True)
class StoredDefinition:
    id: uuid.UUID
    tenant_id: uuid.UUID
    version: int
    definition: WorkflowDefinition
    source_yaml: str | None
    created_at: datetime | None
    updated_at: datetime | None

    @property
    def name(self) -> str:
        return self.definition.name

    @cached_property
    def run_plan(self) -> dict[str, Any]:
        """What an execution records of its definition when it starts (its steps, error
        handling and retry policy, as JSON), made once per loaded definition. Shared: copy
        before changing it."""
        definition = self.definition
        return {
            "plan": [step.model_dump(mode="json") for step in definition.steps],
            "error_handling": definition.error_handling.model_dump(mode="json"),
            "retry_policy": definition.retry_policy.model_dump(mode="json"),
        }


@dataclass(frozen=True)
class SaveResult:
    stored: StoredDefinition
    created: bool
    changed: bool


def _columns(definition: WorkflowDefinition) -> dict[str, Any]:
    trigger = definition.trigger.model_dump(mode="json", exclude_none=True)
    trigger_type = trigger.pop("type")
    return {
        "name": definition.name,
        "description": definition.description,
        "category": definition.category,
        "trigger_type": trigger_type,
        "trigger_conditions": trigger,
        "primary_platform": definition.primary_platform,
        "fallback_platform": definition.fallback_platform,
        "execution_priority": definition.execution_priority,
        "workflow_steps": [s.model_dump(mode="json") for s in definition.steps],
        "error_handling": definition.error_handling.model_dump(mode="json"),
        "retry_policy": definition.retry_policy.model_dump(mode="json"),
        "is_active": definition.is_active,
    }


def definition_from_row(row: sa.RowMapping) -> StoredDefinition:
    definition = WorkflowDefinition.model_validate(
        {
            "name": row["name"],
            "description": row["description"],
            "category": row["category"],
            "trigger": {"type": row["trigger_type"], **(row["trigger_conditions"] or {})},
            "primary_platform": row["primary_platform"] or "internal",
            "fallback_platform": row["fallback_platform"],
            "execution_priority": row["execution_priority"] or 5,
            "steps": row["workflow_steps"],
            "error_handling": row["error_handling"] or {},
            "retry_policy": row["retry_policy"] or {},
            "is_active": bool(row["is_active"]),
        }
    )
    return StoredDefinition(
        id=row["id"],
        tenant_id=row["tenant_id"],
        version=row["version"] or 1,
        definition=definition,
        source_yaml=row["source_yaml"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def _rows(
    conn: AsyncConnection, *conditions: sa.ColumnElement[bool]
) -> list[StoredDefinition]:
    result = await conn.execute(sa.select(_t).where(*conditions).order_by(_t.c.name))
    return [definition_from_row(r) for r in result.mappings()]


async def load_active_definitions(
    conn: AsyncConnection, tenant_id: uuid.UUID, trigger_type: str | None = None
) -> list[StoredDefinition]:
    conditions = [_t.c.tenant_id == tenant_id, _t.c.is_active.is_(True)]
    if trigger_type is not None:
        conditions.append(_t.c.trigger_type == trigger_type)
    return await _rows(conn, *conditions)


async def save_definition(
    db: Database,
    tenant_id: uuid.UUID,
    yaml_text: str,
    *,
    source_name: str | None = None,
    actor: str = "cli",
    created_by: uuid.UUID | None = None,
) -> SaveResult:
    """Validate and store a YAML definition, creating it or bumping its version.

    Raises DefinitionError (line and reason per problem), including for emit_event chains
    that would loop through the tenant's other active definitions.
    """
    async with db.transaction() as conn:
        others = [s.definition for s in await load_active_definitions(conn, tenant_id)]
        definition = parse_definition(yaml_text, source_name, others=others)
        columns = _columns(definition)
        existing = (
            (
                await conn.execute(
                    sa.select(_t).where(_t.c.tenant_id == tenant_id, _t.c.name == definition.name)
                )
            )
            .mappings()
            .first()
        )
        now = utcnow()
        if existing is None:
            new_id = uuid.uuid4()
            await conn.execute(
                sa.insert(_t).values(
                    id=new_id,
                    tenant_id=tenant_id,
                    version=1,
                    source_yaml=yaml_text,
                    created_by=created_by,
                    created_at=now,
                    updated_at=now,
                    **columns,
                )
            )
            created, changed, version = True, True, 1
        else:
            new_id = existing["id"]
            version = existing["version"] or 1
            created = False
            changed = definition_from_row(existing).definition != definition
            if changed:
                version += 1
                await conn.execute(
                    sa.update(_t)
                    .where(_t.c.id == new_id)
                    .values(version=version, source_yaml=yaml_text, updated_at=now, **columns)
                )
        if changed:
            await _audit(conn, tenant_id, actor, "workflow.save", definition.name, version)
        row = (await conn.execute(sa.select(_t).where(_t.c.id == new_id))).mappings().one()
    if changed:
        _changed()
    return SaveResult(definition_from_row(row), created=created, changed=changed)


async def save_document(
    db: Database, tenant_id: uuid.UUID, document: dict[str, Any], *, actor: str = "api"
) -> SaveResult:
    """Save a definition given as a dict in the YAML shape (what an HTTP API receives)."""
    import yaml

    text: str = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)  # pyright: ignore[reportUnknownMemberType]
    return await save_definition(db, tenant_id, text, source_name="definition", actor=actor)


async def get_definition(db: Database, tenant_id: uuid.UUID, name_or_id: str) -> StoredDefinition:
    """By name or id in this tenant; raises NotFoundError saying how to list them."""
    async with db.engine.connect() as conn:
        found = await _find(conn, tenant_id, name_or_id)
    if found is None:
        raise NotFoundError(
            f"no workflow '{name_or_id}' in this tenant; `switchboard workflows list` shows them"
        )
    return found


async def _find(
    conn: AsyncConnection, tenant_id: uuid.UUID, name_or_id: str
) -> StoredDefinition | None:
    try:
        condition = _t.c.id == uuid.UUID(name_or_id)
    except ValueError:
        condition = _t.c.name == name_or_id
    rows = await _rows(conn, _t.c.tenant_id == tenant_id, condition)
    return rows[0] if rows else None


async def list_definitions(
    db: Database, tenant_id: uuid.UUID, *, active_only: bool = False
) -> list[StoredDefinition]:
    async with db.engine.connect() as conn:
        if active_only:
            return await load_active_definitions(conn, tenant_id)
        return await _rows(conn, _t.c.tenant_id == tenant_id)


async def set_active(
    db: Database, tenant_id: uuid.UUID, name_or_id: str, active: bool, *, actor: str = "cli"
) -> StoredDefinition:
    """Activate or deactivate (a change: the version goes up). Activation re-checks chains."""
    async with db.transaction() as conn:
        found = await _find(conn, tenant_id, name_or_id)
        if found is None:
            raise NotFoundError(f"no workflow '{name_or_id}' in this tenant")
        if found.definition.is_active == active:
            return found
        if active:
            others = [s.definition for s in await load_active_definitions(conn, tenant_id)]
            updated = found.definition.model_copy(update={"is_active": True})
            parse_definition(updated.to_yaml(), found.name, others=others)
        await conn.execute(
            sa.update(_t)
            .where(_t.c.id == found.id)
            .values(is_active=active, version=found.version + 1, updated_at=utcnow())
        )
        action = "workflow.activate" if active else "workflow.deactivate"
        await _audit(conn, tenant_id, actor, action, found.name, found.version + 1)
        refreshed = await _find(conn, tenant_id, str(found.id))
    _changed()
    assert refreshed is not None
    return refreshed


async def delete_definition(
    db: Database, tenant_id: uuid.UUID, name_or_id: str, *, actor: str = "cli"
) -> None:
    """Executions keep their rows (their definition link becomes null)."""
    async with db.transaction() as conn:
        found = await _find(conn, tenant_id, name_or_id)
        if found is None:
            raise NotFoundError(f"no workflow '{name_or_id}' in this tenant")
        await conn.execute(sa.delete(_t).where(_t.c.id == found.id))
        await _audit(conn, tenant_id, actor, "workflow.delete", found.name, found.version)
    _changed()


async def _audit(
    conn: AsyncConnection, tenant_id: uuid.UUID, actor: str, action: str, name: str, version: int
) -> None:
    entry = AuditEntry(
        tenant_id=tenant_id,
        actor=actor,
        action=action,
        outcome="ok",
        target=f"workflow:{name}",
        details={"version": version},
    )
    await record_audit(conn, entry)
