"""The CRM server's analytics tools: health (stored, with churn events over the threshold),
at-risk lists, retention playbooks, benchmarks under the five-tenant rule, lifetime value,
and the churn ranking's AUC on demo data with known churners."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from mcp import Client
from sklearn.metrics import roc_auc_score  # pyright: ignore[reportUnknownVariableType]

from servers.mcp.crm import build_crm_server
from shared.analytics.health import score_health_batch
from shared.analytics.health_features import HealthColumns
from shared.crm.analytics_data import customer_health_features
from shared.crm.tenant_models import clear_fit_cache
from shared.db.database import Database
from shared.db.schema import (
    accounts,
    customer_health_scores,
    deals,
    event_queue,
    tenants,
    transactions,
)
from shared.demo.plan import DemoParams, churn_ground_truth, plan_tenants
from shared.demo.seed import seed_demo
from shared.tenants import create_tenant
from tests.unit.servers.mcp.crm_world import CrmWorld, build_world

NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def _fresh_fits() -> None:
    clear_fit_cache()  # fits are cached per process: each test fits its own data


async def _call(world: CrmWorld, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    async with Client(build_crm_server(state=world.state())) as client:
        result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def _error(world: CrmWorld, name: str, arguments: dict[str, Any]) -> str:
    async with Client(build_crm_server(state=world.state())) as client:
        result = await client.call_tool(name, arguments)
    assert result.is_error
    return result.content[0].text  # type: ignore[union-attr]


async def _events(world: CrmWorld) -> list[dict[str, Any]]:
    async with world.database.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(event_queue.c.event_type, event_queue.c.customer_id, event_queue.c.priority)
        )
        return [dict(r) for r in rows.mappings()]


async def _buy(
    db: Database, tenant_id: uuid.UUID, account_id: uuid.UUID, days_ago: list[float], amount: float
) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            sa.insert(transactions),
            [
                {
                    "id": uuid.uuid4(),
                    "tenant_id": tenant_id,
                    "account_id": account_id,
                    "amount": amount,
                    "occurred_at": NOW - timedelta(days=d),
                }
                for d in days_ago
            ],
        )


async def _lapsing_cool_air(world: CrmWorld) -> None:
    """Cool Air paid monthly for most of a year, then stopped five months ago."""
    await _buy(
        world.database, world.tenant_id, world.cool_id, [150.0 + 30 * i for i in range(7)], 500
    )


async def test_customer_health_is_stored_and_emits_churn_risk_once(world: CrmWorld) -> None:
    await _lapsing_cool_air(world)
    out = await _call(world, "analyze_customer_health", {"account_id": str(world.cool_id)})
    assert out["stored"] is True and out["over_threshold"] is True
    assert out["churn_probability"] >= 0.7 and out["risk_level"] == "high"
    assert out["churn_risk_threshold"] == 0.7
    top = out["drivers"][0]
    assert top["factor"] in ("recency", "spend_trend", "payment_gap") and top["evidence"]
    assert "prior weights" in out["method"]
    [event] = await _events(world)
    assert event["event_type"] == "churn_risk_detected"
    assert event["customer_id"] == str(world.cool_id)
    again = await _call(world, "analyze_customer_health", {"account_id": str(world.cool_id)})
    assert again["health_id"] != out["health_id"]
    assert len(await _events(world)) == 1  # still at risk: no second churn event
    account = await _call(world, "get_account", {"account_id": str(world.cool_id)})
    assert account["latest_health"]["id"] == again["health_id"]


async def test_healthy_score_and_store_false_emit_nothing(world: CrmWorld) -> None:
    await _buy(world.database, world.tenant_id, world.cool_id, [3, 33, 63, 93, 123], 500)
    out = await _call(world, "analyze_customer_health", {"account_id": str(world.cool_id)})
    assert out["over_threshold"] is False and out["churn_probability"] < 0.5
    assert await _events(world) == []
    look = await _call(
        world, "analyze_customer_health", {"account_id": str(world.cool_id), "store": False}
    )
    assert look["stored"] is False and look["health_id"] is None
    async with world.database.engine.connect() as conn:
        count = await conn.scalar(sa.select(sa.func.count()).select_from(customer_health_scores))
    assert count == 1


async def test_list_at_risk_says_whether_scores_were_stored_or_computed(world: CrmWorld) -> None:
    await _lapsing_cool_air(world)
    computed = await _call(world, "list_at_risk_customers", {"threshold": 0.5})
    [item] = computed["customers"]
    assert item["account_id"] == str(world.cool_id) and item["source"] == "computed"
    assert "Cool Air HVAC" in item["name"] and "<untrusted-data" in item["name"]
    assert computed["computed_now"] == 1 and computed["stored_scores_used"] == 0
    await _call(world, "analyze_customer_health", {"account_id": str(world.cool_id)})
    stored = await _call(world, "list_at_risk_customers", {})
    [item] = stored["customers"]
    assert item["source"] == "stored" and item["computed_at"]
    assert stored["threshold"] == 0.7 and stored["stored_scores_used"] == 1
    none = await _call(world, "list_at_risk_customers", {"threshold": 0.99})
    assert none["customers"] == [] and none["total_over_threshold"] == 0


async def test_retention_strategy_ranks_plays_from_the_drivers(world: CrmWorld) -> None:
    await _lapsing_cool_air(world)
    plan = await _call(world, "generate_retention_strategy", {"account_id": str(world.cool_id)})
    assert plan["urgency"] == "urgent" and plan["actions"]
    assert [a["rank"] for a in plan["actions"]] == list(range(1, len(plan["actions"]) + 1))
    first = plan["actions"][0]
    assert first["due_offset"].startswith("+") and first["reason"] and first["message_hint"]
    assert plan["value_at_risk"] is not None and plan["value_at_risk"] > 0
    async with world.database.engine.connect() as conn:  # it only plans: nothing stored
        assert (
            await conn.scalar(sa.select(sa.func.count()).select_from(customer_health_scores)) == 0
        )


async def _dentists(db: Database, tenant_id: uuid.UUID, ratings: list[float], won: float) -> None:
    async with db.transaction() as conn:
        for rating in ratings:
            account_id = uuid.uuid4()
            await conn.execute(
                sa.insert(accounts).values(
                    id=account_id,
                    tenant_id=tenant_id,
                    name=f"Dentist {rating}",
                    industry="dentist",
                    city="Austin",
                    gmb_rating=rating,
                    gmb_review_count=int(rating * 10),
                    lifecycle_stage="customer",
                )
            )
            await conn.execute(
                sa.insert(deals).values(
                    id=uuid.uuid4(),
                    tenant_id=tenant_id,
                    account_id=account_id,
                    title="Plan",
                    stage="won",
                    amount=won,
                )
            )


async def test_benchmarks_are_own_figures_below_five_tenants(world: CrmWorld) -> None:
    out = await _call(world, "get_industry_benchmarks", {"industry": "Dentists"})
    rating = {m["metric"]: m for m in out["metrics"]}["rating"]
    assert out["industry"] == "dentist"
    assert rating["scope"] == "own_tenant" and rating["tenants"] == 1
    assert rating["p25"] <= rating["p50"] <= rating["p75"] and rating["rows"] == 2  # 4.1, 4.8
    assert "your own accounts only" in out["explanation"]


async def test_benchmarks_span_tenants_once_five_contribute(world: CrmWorld) -> None:
    for n in range(4):
        other = await create_tenant(world.database, f"agency-{n}")
        await _dentists(world.database, other.id, [3.0 + 0.5 * n], won=1000.0 * (n + 1))
    out = await _call(world, "get_industry_benchmarks", {"industry": "dentist", "city": "austin"})
    metrics = {m["metric"]: m for m in out["metrics"]}
    assert metrics["rating"]["scope"] == "all_tenants" and metrics["rating"]["tenants"] == 5
    assert metrics["rating"]["level"] == "city"
    assert metrics["rating"]["rows"] == 6  # our 2 rated dentists + 1 of each new agency
    # Won dentist deals exist at 4 agencies only, and none are ours: no figure at all.
    assert metrics["deal_size"]["scope"] == "unavailable" and metrics["deal_size"]["p50"] is None
    # One rate per tenant: ours 0/1 (a lead, no customer), each agency's 1/1.
    conversion = metrics["conversion_rate"]
    assert conversion["scope"] == "all_tenants" and conversion["rows"] == 5
    assert conversion["p50"] == 1.0 and conversion["p25"] == 1.0
    # Only the 4 agencies have customers (churn rate 0): fewer than 5, and none of ours.
    assert metrics["churn_rate"]["scope"] == "unavailable"


async def test_lifetime_value_fits_the_tenant_and_caches_the_fit(world: CrmWorld) -> None:
    rng = random.Random(7)
    customers = []
    async with world.database.transaction() as conn:
        for n in range(30):
            # Ids from the seed too: the fit reads customers in id order, and the same data
            # in another order can land the optimizer elsewhere.
            account_id = uuid.UUID(int=rng.getrandbits(128))
            customers.append(account_id)
            await conn.execute(
                sa.insert(accounts).values(
                    id=account_id,
                    tenant_id=world.tenant_id,
                    name=f"C{n}",
                    lifecycle_stage="customer",
                )
            )
    for account_id in customers:
        purchases = sorted(rng.uniform(1, 300) for _ in range(rng.randint(1, 8)))
        usual = rng.choice([80, 120, 200])
        for days_ago in purchases:  # spend varies around each customer's usual amount
            amount = round(usual * rng.uniform(0.7, 1.4), 2)
            await _buy(world.database, world.tenant_id, account_id, [days_ago], amount)
    first = await _call(world, "predict_customer_lifetime_value", {"account_id": str(customers[0])})
    assert first["cached_fit"] is False and first["fit_customers"] == 30
    assert first["clv_low"] <= first["clv"] <= first["clv_high"]
    assert 0 <= first["probability_alive"] <= 1 and "BG/NBD" in first["method"]
    second = await _call(
        world,
        "predict_customer_lifetime_value",
        {"account_id": str(customers[1]), "horizon_weeks": 26},
    )
    assert second["cached_fit"] is True and second["horizon_weeks"] == 26
    text = await _error(
        world, "predict_customer_lifetime_value", {"account_id": str(world.smile_id)}
    )
    assert "no purchases" in text


async def test_too_few_customers_for_lifetime_value_is_explained(world: CrmWorld) -> None:
    await _lapsing_cool_air(world)
    text = await _error(
        world, "predict_customer_lifetime_value", {"account_id": str(world.cool_id)}
    )
    assert "at least 20 customers" in text


async def test_another_tenants_account_is_not_in_this_workspace(world: CrmWorld) -> None:
    for tool in (
        "analyze_customer_health",
        "generate_retention_strategy",
        "predict_customer_lifetime_value",
    ):
        text = await _error(world, tool, {"account_id": str(world.foreign_id)})
        assert "not in this workspace" in text, tool
    assert await _events(world) == []


async def test_bad_arguments_are_readable_errors(world: CrmWorld) -> None:
    text = await _error(world, "list_at_risk_customers", {"threshold": 2})
    assert "threshold" in text and "1" in text
    text = await _error(world, "get_industry_benchmarks", {"industry": ""})
    assert "industry" in text
    text = await _error(world, "analyze_customer_health", {"account_id": "not-a-uuid"})
    assert "account_id" in text


async def test_churn_ranking_finds_the_demo_churners(crm_db: Database) -> None:
    """AUC of the health ranking against the demo generator's ground truth (active customers:
    stages customer and at_risk). Printed for the record; must be far above chance."""
    params = DemoParams(seed=11, accounts=2500, tenants=1, as_of=NOW)
    await seed_demo(crm_db, params)
    [tenant] = plan_tenants(params)
    truth = {
        label.account_id: label.churn_drifter
        for label in churn_ground_truth(params)
        if label.lifecycle_stage in ("customer", "at_risk")
    }
    rows = await customer_health_features(crm_db, tenant.id, as_of=NOW)
    assert {r.account_id for r in rows} == set(truth)
    scores = score_health_batch(HealthColumns.from_features([r.features for r in rows]))
    labels = [truth[r.account_id] for r in rows]
    auc = float(roc_auc_score(labels, scores.churn_probability))
    print(
        f"churn ranking on demo data: AUC {auc:.3f} over {len(rows)} customers, "
        f"{sum(labels)} drifters"
    )
    assert sum(labels) >= 10 and auc > 0.8


ANALYTICS_READ = {
    "list_at_risk_customers",
    "generate_retention_strategy",
    "get_industry_benchmarks",
    "predict_customer_lifetime_value",
}


async def test_analytics_tools_are_listed_with_honest_annotations(world: CrmWorld) -> None:
    async with Client(build_crm_server(state=world.state())) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    async with Client(build_crm_server(state=world.state(read_only=True))) as client:
        read_only = {t.name for t in (await client.list_tools()).tools}
    for name in (*ANALYTICS_READ, "analyze_customer_health"):
        tool = tools[name]
        assert tool.title and tool.description and len(tool.description) > 100
        assert tool.output_schema is not None and tool.output_schema.get("type") == "object"
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is (name in ANALYTICS_READ)
    assert read_only >= ANALYTICS_READ and "analyze_customer_health" not in read_only


async def test_churn_threshold_comes_from_tenant_settings(world: CrmWorld) -> None:
    await _lapsing_cool_air(world)
    async with world.database.transaction() as conn:
        await conn.execute(
            sa.update(tenants)
            .where(tenants.c.id == world.tenant_id)
            .values(settings={"churn_risk_threshold": 0.95})
        )
    out = await _call(world, "analyze_customer_health", {"account_id": str(world.cool_id)})
    assert out["churn_risk_threshold"] == 0.95 and out["over_threshold"] is False
    assert await _events(world) == []
    listed = await _call(world, "list_at_risk_customers", {})
    assert listed["threshold"] == 0.95 and listed["customers"] == []


async def test_a_fitted_churn_model_is_used_once_labelled_history_suffices(
    world: CrmWorld,
) -> None:
    """40 customers buying monthly to this day, 40 churned ones whose purchases stopped five
    months ago: the model fitted on what was visible 90 days ago separates them."""
    rng = random.Random(3)
    async with world.database.transaction() as conn:
        people = []
        for n in range(80):
            account_id = uuid.uuid4()
            stage = "customer" if n % 2 else "churned"
            people.append((account_id, stage))
            await conn.execute(
                sa.insert(accounts).values(
                    id=account_id, tenant_id=world.tenant_id, name=f"P{n}", lifecycle_stage=stage
                )
            )
    for account_id, stage in people:
        start = 2.0 if stage == "customer" else 150.0
        days = [start + 30 * i + rng.uniform(0, 5) for i in range(7)]
        await _buy(world.database, world.tenant_id, account_id, days, 300)
    await _lapsing_cool_air(world)
    out = await _call(world, "analyze_customer_health", {"account_id": str(world.cool_id)})
    assert out["method"].startswith("logistic regression fitted on 40 churned and 41 retained")
    assert out["drivers"][0]["unit"] == "log-odds" and out["churn_probability"] > 0.5
    listed = await _call(world, "list_at_risk_customers", {"threshold": 0.0, "limit": 100})
    assert "fitted churn model" in listed["method"]


async def test_bulk_store_queries_run_on_sqlite_and_postgres(any_db: Database) -> None:
    world = await build_world(any_db)
    await _lapsing_cool_air(world)
    for n in range(4):
        other = await create_tenant(world.database, f"agency-{n}")
        await _dentists(world.database, other.id, [3.0 + 0.5 * n], won=1000.0)
    computed = await _call(world, "list_at_risk_customers", {})
    assert [c["source"] for c in computed["customers"]] == ["computed"]
    health = await _call(world, "analyze_customer_health", {"account_id": str(world.cool_id)})
    assert [e["event_type"] for e in await _events(world)] == ["churn_risk_detected"]
    stored = await _call(world, "list_at_risk_customers", {})
    [item] = stored["customers"]
    assert item["source"] == "stored" and item["churn_probability"] == health["churn_probability"]
    bench = await _call(world, "get_industry_benchmarks", {"industry": "dentist"})
    metrics = {m["metric"]: m for m in bench["metrics"]}
    assert metrics["rating"]["scope"] == "all_tenants" and metrics["rating"]["rows"] == 6
    assert metrics["conversion_rate"]["scope"] == "all_tenants"
