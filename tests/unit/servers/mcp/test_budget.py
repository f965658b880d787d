"""Results over the size budget are cut down, say `truncated: true` and how to page on."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from mcp import Client

from servers.mcp.common.budget import fit_count, json_size
from servers.mcp.crm import build_crm_server
from servers.mcp.crm_models import QueryResultOut
from shared.db.crm_tables import accounts, reviews
from tests.unit.servers.mcp.crm_world import CrmWorld


async def _add_accounts(world: CrmWorld, count: int) -> None:
    async with world.database.transaction() as conn:
        await conn.execute(
            sa.insert(accounts),
            [
                {
                    "id": uuid.uuid4(),
                    "tenant_id": world.tenant_id,
                    "name": f"Plumber {n:03d} " + "x" * 100,
                    "industry": "plumber",
                    "city": "Houston",
                    "lifecycle_stage": "prospect",
                    "lead_score": float(n % 100),
                }
                for n in range(count)
            ],
        )


async def test_search_over_budget_is_truncated_and_the_cursor_continues(world: CrmWorld) -> None:
    await _add_accounts(world, 60)
    async with Client(build_crm_server(state=world.state(budget=5_000))) as client:
        first = (
            await client.call_tool("search_prospects", {"industry": "plumber", "limit": 100})
        ).structured_content
        assert first is not None
        assert first["truncated"] is True and "next_cursor" in first["truncation_note"]
        assert 0 < len(first["items"]) < 60 and first["total"] == 60
        seen = {i["id"] for i in first["items"]}
        cursor = first["next_cursor"]
        while cursor:
            page = (
                await client.call_tool(
                    "search_prospects", {"industry": "plumber", "limit": 100, "cursor": cursor}
                )
            ).structured_content
            assert page is not None
            assert seen.isdisjoint(i["id"] for i in page["items"])
            seen |= {i["id"] for i in page["items"]}
            cursor = page["next_cursor"]
    assert len(seen) == 60


async def test_query_over_budget_is_truncated(world: CrmWorld) -> None:
    await _add_accounts(world, 60)
    async with Client(build_crm_server(state=world.state(budget=3_000))) as client:
        result = await client.call_tool(
            "query_crm", {"entity": "accounts", "fields": ["name"], "limit": 500}
        )
    table = result.structured_content
    assert table is not None and table["truncated"] is True
    assert table["row_count"] == len(table["rows"]) < 63
    assert len(json.dumps(table, separators=(",", ":"))) <= 3_000


async def test_account_over_budget_drops_old_reviews_and_says_where_they_are(
    world: CrmWorld,
) -> None:
    now = datetime.now(UTC)
    async with world.database.transaction() as conn:
        await conn.execute(
            sa.insert(reviews),
            [
                {
                    "id": uuid.uuid4(),
                    "tenant_id": world.tenant_id,
                    "account_id": world.smile_id,
                    "rating": 4,
                    "text": "Friendly staff. " * 40,
                    "author": f"Reviewer {n}",
                    "reviewed_at": now - timedelta(hours=n),
                }
                for n in range(10)
            ],
        )
    async with Client(build_crm_server(state=world.state(budget=4_000))) as client:
        account = (
            await client.call_tool("get_account", {"account_id": str(world.smile_id)})
        ).structured_content
    assert account is not None and account["truncated"] is True
    assert (
        "recent reviews" in account["truncation_note"] and "query_crm" in account["truncation_note"]
    )
    assert len(account["recent_reviews"]) < 10


def test_fit_count_finds_the_largest_prefix_that_fits() -> None:
    rows: list[list[str | int | float | bool | None]] = [["x" * 50] for _ in range(100)]

    def render(kept: object) -> QueryResultOut:
        items = list(kept)  # type: ignore[call-overload]
        return QueryResultOut(columns=["a"], rows=items, row_count=len(items))

    n = fit_count(rows, render, 1_000)
    assert json_size(render(rows[:n])) <= 1_000 < json_size(render(rows[: n + 1]))
    assert fit_count(rows[:3], render, 1_000) == 3
    assert fit_count(rows, render, 10) == 1  # one oversized row beats none
