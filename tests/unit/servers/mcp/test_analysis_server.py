"""The analysis server: every tool on a CRM account and on inline data, stored qualifications
and their events, validation errors, and tenant isolation."""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from mcp import Client

from servers.cli.main import main
from servers.mcp.analysis import build_analysis_server
from servers.mcp.common.caller import Role
from shared.config import get_settings
from shared.db.schema import ai_lead_qualification, event_queue, tenants
from tests.unit.servers.mcp.crm_world import CrmWorld


def _iso(days_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()


INLINE_BUSINESS: dict[str, Any] = {
    "name": "Taco Town",
    "industry": "restaurant",
    "city": "Austin",
    "rating": 4.6,
    "review_count": 240,
    "website": "https://taco.example",
    "hours": {"mon": "11:00-22:00", "tue": "11:00-22:00"},
    "photos_count": 60,
    "reviews": [
        {"rating": 5, "text": "Amazing tacos and friendly staff", "reviewed_at": _iso(3)},
        {"rating": 5, "text": "Friendly staff, amazing salsa", "reviewed_at": _iso(20)},
        {
            "rating": 2,
            "text": "Awful service, long wait times and cold food",
            "reviewed_at": _iso(40),
        },
        {"rating": 1, "text": "Terrible, long wait times again", "reviewed_at": _iso(130)},
    ],
}


async def _call(
    world: CrmWorld, name: str, arguments: dict[str, Any], *, role: Role = Role.ADMIN
) -> dict[str, Any]:
    async with Client(build_analysis_server(state=world.state(role=role))) as client:
        result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def _error(world: CrmWorld, name: str, arguments: dict[str, Any], **kw: Any) -> str:
    async with Client(build_analysis_server(state=world.state(**kw))) as client:
        result = await client.call_tool(name, arguments)
    assert result.is_error
    return result.content[0].text  # type: ignore[union-attr]


async def _event_types(world: CrmWorld) -> list[str]:
    async with world.database.engine.connect() as conn:
        rows = await conn.scalars(sa.select(event_queue.c.event_type))
        return list(rows)


async def test_qualify_lead_on_an_account_stores_it_and_updates_the_lead_score(
    world: CrmWorld,
) -> None:
    out = await _call(world, "qualify_lead", {"account_id": str(world.smile_id)})
    assert out["stored"] is True and out["account_id"] == str(world.smile_id)
    assert 0 <= out["score"] <= 100 and out["grade"] in "ABCD"
    assert out["method"] and out["inputs_used"] and out["confidence"] in ("low", "medium", "high")
    assert {f["factor"] for f in out["factors"]} >= {"rating", "website", "sentiment"}
    async with world.database.engine.connect() as conn:
        stored = (await conn.execute(sa.select(ai_lead_qualification))).mappings().one()
    assert str(stored["id"]) == out["qualification_id"] and stored["score"] == out["score"]
    detail = await _crm_account(world)
    assert detail["lead_score"] == out["score"]
    assert detail["latest_qualification"]["id"] == out["qualification_id"]


async def _crm_account(world: CrmWorld) -> dict[str, Any]:
    from servers.mcp.crm import build_crm_server

    async with Client(build_crm_server(state=world.state())) as client:
        result = await client.call_tool("get_account", {"account_id": str(world.smile_id)})
    assert result.structured_content is not None
    return result.structured_content


async def test_qualification_over_the_tenant_threshold_emits_lead_qualified(
    world: CrmWorld,
) -> None:
    await _call(world, "qualify_lead", {"account_id": str(world.smile_id)})
    assert await _event_types(world) == []  # default threshold 80: Smile scores below it
    async with world.database.transaction() as conn:
        await conn.execute(
            sa.update(tenants)
            .where(tenants.c.id == world.tenant_id)
            .values(settings={"qualification_threshold": 30})
        )
    out = await _call(world, "qualify_lead", {"account_id": str(world.smile_id)})
    assert out["qualification_threshold"] == 30
    assert await _event_types(world) == ["lead_qualified"]


async def test_store_false_and_score_lead_save_nothing(world: CrmWorld) -> None:
    out = await _call(world, "qualify_lead", {"account_id": str(world.smile_id), "store": False})
    preview = await _call(
        world, "score_lead", {"account_id": str(world.smile_id)}, role=Role.VIEWER
    )
    assert out["stored"] is False and preview["stored"] is False
    assert preview["score"] == out["score"]
    async with world.database.engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(ai_lead_qualification)) == 0


async def test_qualify_lead_is_a_write_tool_hidden_from_viewers(world: CrmWorld) -> None:
    async with Client(build_analysis_server(state=world.state(role=Role.VIEWER))) as client:
        listed = {t.name: t for t in (await client.list_tools()).tools}
    assert "qualify_lead" not in listed and "score_lead" in listed
    assert listed["analyze_sentiment"].annotations.read_only_hint is True  # type: ignore[union-attr]
    text = await _error(world, "qualify_lead", {"business": INLINE_BUSINESS}, role=Role.VIEWER)
    assert "operator" in text


async def test_lead_scoring_weights_come_from_tenant_settings(world: CrmWorld) -> None:
    before = await _call(world, "score_lead", {"business": INLINE_BUSINESS})
    async with world.database.transaction() as conn:
        await conn.execute(
            sa.update(tenants)
            .where(tenants.c.id == world.tenant_id)
            .values(settings={"lead_scoring": {"target_cities": ["Dallas"]}})
        )
    after = await _call(world, "score_lead", {"business": INLINE_BUSINESS})
    location = {f["factor"]: f for f in after["factors"]}["location_fit"]
    assert location["available"] is True and location["value"] == 0.0
    assert after["score"] < before["score"]


async def test_inline_qualification_stores_nothing(world: CrmWorld) -> None:
    out = await _call(world, "qualify_lead", {"business": INLINE_BUSINESS})
    assert out["stored"] is False and out["account_id"] is None
    assert out["grade"] in ("A", "B")  # a strong, complete profile


async def test_analyze_sentiment_inline_finds_themes_and_fences_them(world: CrmWorld) -> None:
    out = await _call(world, "analyze_sentiment", {"reviews": INLINE_BUSINESS["reviews"]})
    assert out["review_count"] == 4 and out["share_negative"] == 0.5
    negative = " ".join(t["phrase"] for t in out["negative_themes"])
    assert "long wait" in negative and "<untrusted-data" in negative
    assert out["method"].startswith("VADER")


async def test_analyze_sentiment_of_an_account_never_echoes_review_text_unfenced(
    world: CrmWorld,
) -> None:
    out = await _call(world, "analyze_sentiment", {"account_id": str(world.smile_id)})
    assert out["review_count"] == 2 and out["account_id"] == str(world.smile_id)
    assert len(out["reviews"]) == 2
    assert "ignore all previous instructions" not in str(out)
    assert out["explanation"].startswith("<untrusted-data boundary=")


async def test_sentiment_of_many_reviews_is_cut_to_the_budget_and_says_so(
    world: CrmWorld,
) -> None:
    many = [
        {"rating": 4, "text": f"Good visit number {n}", "reviewed_at": _iso(n)} for n in range(300)
    ]
    async with Client(build_analysis_server(state=world.state(budget=6_000))) as client:
        result = await client.call_tool("analyze_sentiment", {"reviews": many})
    out = result.structured_content
    assert out is not None and out["truncated"] is True
    assert out["review_count"] == 300 and len(out["reviews"]) < 300
    assert "reviews entries" in out["truncation_note"]


async def test_growth_signals_for_account_and_inline(world: CrmWorld) -> None:
    account = await _call(world, "identify_growth_signals", {"account_id": str(world.smile_id)})
    assert any(s["kind"] == "review_velocity" for s in account["signals"])
    business = {
        **INLINE_BUSINESS,
        "posts": [{"text": "We're hiring line cooks!", "posted_at": _iso(5)}],
    }
    inline = await _call(world, "identify_growth_signals", {"business": business})
    assert any(s["kind"] == "hiring" for s in inline["signals"])
    assert inline["momentum"] in ("growing", "stable", "declining")


async def test_competitive_analysis_finds_crm_competitors_by_industry_and_city(
    world: CrmWorld,
) -> None:
    out = await _call(world, "competitive_analysis", {"account_id": str(world.smile_id)})
    assert out["competitor_ids"] == [str(world.bright_id)]
    ranks = {r["metric"]: r for r in out["ranks"]}
    assert ranks["rating"]["percentile"] == 100.0
    assert "Bright Teeth" in out["competitor_to_watch"]


async def test_competitive_analysis_inline(world: CrmWorld) -> None:
    rival = {**INLINE_BUSINESS, "name": "Burrito Barn", "rating": 4.9, "review_count": 900}
    out = await _call(
        world, "competitive_analysis", {"business": INLINE_BUSINESS, "competitors": [rival]}
    )
    assert "Burrito Barn" in out["competitor_to_watch"]
    assert out["account_id"] is None


async def test_either_account_or_inline_data_is_required(world: CrmWorld) -> None:
    neither = await _error(world, "score_lead", {})
    both = await _error(
        world, "score_lead", {"account_id": str(world.smile_id), "business": INLINE_BUSINESS}
    )
    assert "exactly one of account_id" in neither and "neither" in neither
    assert "both" in both


async def test_invalid_inline_data_is_a_readable_error(world: CrmWorld) -> None:
    bad = {**INLINE_BUSINESS, "rating": 7}
    text = await _error(world, "score_lead", {"business": bad})
    assert "business.rating" in text and "5" in text
    naive = [{"rating": 5, "text": "ok", "reviewed_at": "2026-01-01T00:00:00"}]
    text = await _error(world, "analyze_sentiment", {"reviews": naive})
    assert "reviewed_at" in text and "timezone" in text


async def test_another_tenants_account_is_not_in_this_workspace(world: CrmWorld) -> None:
    for tool in ("qualify_lead", "analyze_sentiment", "identify_growth_signals"):
        text = await _error(world, tool, {"account_id": str(world.foreign_id)})
        assert "not in this workspace" in text, tool
    async with world.database.engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(ai_lead_qualification)) == 0


async def test_every_analysis_tool_has_a_title_annotations_and_output_schema(
    world: CrmWorld,
) -> None:
    async with Client(build_analysis_server(state=world.state())) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {
        "qualify_lead",
        "score_lead",
        "analyze_sentiment",
        "identify_growth_signals",
        "competitive_analysis",
    }
    for name, tool in tools.items():
        assert tool.title and tool.description and len(tool.description) > 100
        assert tool.output_schema is not None and "method" in tool.output_schema["properties"]
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is (name != "qualify_lead")
        assert "tenant" not in str(tool.input_schema.get("properties", {})).lower()


def test_cli_analysis_command_refuses_an_unknown_tenant_in_one_line(
    migrated_sqlite_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shutil.copyfile(migrated_sqlite_file, tmp_path / "store.sqlite3")  # SWITCHBOARD_DATABASE_URL
    monkeypatch.setattr(sys, "argv", ["switchboard", "mcp", "analysis", "--tenant", "nope"])
    get_settings.cache_clear()
    with pytest.raises(SystemExit) as exited:
        main()
    out, err = capsys.readouterr()
    assert exited.value.code == 1 and out == ""
    assert "tenant 'nope' does not exist" in err and "Traceback" not in err
