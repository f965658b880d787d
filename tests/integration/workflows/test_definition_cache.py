"""Which definitions an event sees when they are cached (SQLite and Postgres)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa

from orchestration.workflows.definition_cache import DefinitionCache
from orchestration.workflows.store import save_definition, set_active
from shared.db.database import Database
from shared.db.orchestration_tables import workflow_definitions
from shared.db.types import utcnow

ONE_STEP = """name: {name}
trigger: {{type: event, event_type: deal_closed}}
steps:
  - name: nothing
    action: noop
"""


async def _names(
    cache: DefinitionCache, tenant_id: uuid.UUID, published_at_offset_s: float
) -> set[str]:
    published = utcnow() + timedelta(seconds=published_at_offset_s)
    return {d.name for d in await cache.active(tenant_id, published)}


async def _deactivate_behind_our_back(db: Database, name: str) -> None:
    """As another process would: this process's change count does not move."""
    async with db.transaction() as conn:
        await conn.execute(
            sa.update(workflow_definitions)
            .where(workflow_definitions.c.name == name)
            .values(is_active=False)
        )


async def _read_then_changed_elsewhere(db: Database, tenant_id: uuid.UUID) -> DefinitionCache:
    """A cache that read {first}, which another process then deactivated."""
    await save_definition(db, tenant_id, ONE_STEP.format(name="first"))
    cache = DefinitionCache(db)
    assert await _names(cache, tenant_id, -1) == {"first"}
    await _deactivate_behind_our_back(db, "first")
    return cache


async def test_events_published_before_the_read_share_it(
    db: Database, tenant_id: uuid.UUID
) -> None:
    cache = await _read_then_changed_elsewhere(db, tenant_id)
    # Published before the cache was read: the change could not have been seen by them.
    assert await _names(cache, tenant_id, -1) == {"first"}


async def test_an_event_published_after_the_read_sees_another_process_change(
    db: Database, tenant_id: uuid.UUID
) -> None:
    cache = await _read_then_changed_elsewhere(db, tenant_id)
    assert await _names(cache, tenant_id, +1) == set()


async def test_a_change_made_in_this_process_is_seen_at_once(
    db: Database, tenant_id: uuid.UUID
) -> None:
    await save_definition(db, tenant_id, ONE_STEP.format(name="first"))
    cache = DefinitionCache(db)
    assert await _names(cache, tenant_id, -1) == {"first"}
    await save_definition(db, tenant_id, ONE_STEP.format(name="second"))
    assert await _names(cache, tenant_id, -1) == {"first", "second"}
    await set_active(db, tenant_id, "first", False)
    assert await _names(cache, tenant_id, -1) == {"second"}


async def test_nothing_is_served_older_than_max_age(db: Database, tenant_id: uuid.UUID) -> None:
    await save_definition(db, tenant_id, ONE_STEP.format(name="first"))
    now = [1_000_000_000.0]
    cache = DefinitionCache(db, max_age_s=5.0, clock=lambda: now[0])
    published_long_ago = utcnow() - timedelta(days=365 * 30)
    assert {d.name for d in await cache.active(tenant_id, published_long_ago)} == {"first"}
    await _deactivate_behind_our_back(db, "first")
    now[0] += 4.0
    assert {d.name for d in await cache.active(tenant_id, published_long_ago)} == {"first"}
    now[0] += 2.0
    assert await cache.active(tenant_id, published_long_ago) == []


async def test_tenants_are_cached_apart(db: Database, tenant_id: uuid.UUID) -> None:
    from shared.tenants import create_tenant

    other = (await create_tenant(db, f"other-{uuid.uuid4().hex[:6]}")).id
    await save_definition(db, tenant_id, ONE_STEP.format(name="mine"))
    await save_definition(db, other, ONE_STEP.format(name="theirs"))
    cache = DefinitionCache(db)
    assert await _names(cache, tenant_id, -1) == {"mine"}
    assert await _names(cache, other, -1) == {"theirs"}
