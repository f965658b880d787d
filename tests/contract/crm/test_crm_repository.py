"""The CRM repository contract: the same tests for every data source (see conftest.py).

Each test makes two tenants and its own rows; tenant B's rows look like A's, so a missing
tenant filter anywhere shows up as wrong names or wrong numbers.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from shared.crm.models import (
    ActivityKind,
    CampaignChannel,
    CampaignKind,
    LifecycleStage,
    NewActivity,
    NewCampaign,
    NewHealthScore,
    NewLeadQualification,
    ProspectSearch,
    ProspectSort,
)
from shared.crm.query import CrmQuery
from shared.crm.repository import CrmChange, CrmRepository
from shared.db.crm_tables import accounts, activities, ai_lead_qualification, campaigns
from shared.errors import NotFoundError, ValidationFailedError
from tests.contract.crm.builders import at, days_ago, seed_prospect_book
from tests.contract.crm.conftest import CrmBackend


def count_of(table: sa.Table, where: sa.ColumnElement[bool]) -> sa.Select[int]:
    """Rows of this test's own tenants only: some backends share one database across tests."""
    return sa.select(sa.func.count()).select_from(table).where(where)


async def two_tenants(backend: CrmBackend) -> tuple[uuid.UUID, uuid.UUID]:
    return await backend.build.tenant(), await backend.build.tenant()


async def names(repo: CrmRepository, **filters: Any) -> list[str]:
    page = await repo.search_accounts(ProspectSearch(limit=100, **filters))
    assert page.total == len(page.items)
    return [a.name for a in page.items]


# -- search_accounts -------------------------------------------------------------------------

FILTER_CASES: list[tuple[dict[str, Any], set[str]]] = [
    ({"industry": ["dentist"]}, {"Alpha Dental", "Bravo Dental", "Foxtrot Dental"}),
    ({"industry": ["hvac", "business_consultant"]}, {"Charlie HVAC", "Echo HVAC",
                                                     "Delta Consulting"}),
    ({"city": "AUSTIN"}, {"Alpha Dental", "Bravo Dental", "Echo HVAC"}),
    ({"region": "or"}, {"Delta Consulting"}),
    ({"rating_min": 4.5}, {"Alpha Dental", "Charlie HVAC", "Foxtrot Dental"}),
    ({"rating_max": 4.1}, {"Bravo Dental", "Echo HVAC"}),
    ({"rating_min": 4.0, "rating_max": 4.6}, {"Charlie HVAC", "Echo HVAC"}),
    ({"review_count_min": 60}, {"Alpha Dental", "Charlie HVAC", "Foxtrot Dental"}),
    ({"review_count_max": 15}, {"Bravo Dental", "Echo HVAC"}),
    ({"lifecycle_stage": ["prospect", "at_risk"]}, {"Alpha Dental", "Echo HVAC", "Foxtrot Dental"}),
    ({"lead_score_min": 70}, {"Alpha Dental", "Charlie HVAC", "Foxtrot Dental"}),
    ({"lead_score_max": 55}, {"Bravo Dental", "Echo HVAC"}),
    ({"has_website": True}, {"Alpha Dental", "Delta Consulting", "Echo HVAC", "Foxtrot Dental"}),
    ({"has_website": False}, {"Bravo Dental", "Charlie HVAC"}),
    ({"text": "DENTAL"}, {"Alpha Dental", "Bravo Dental", "Foxtrot Dental"}),
    ({"text": "family"}, {"Alpha Dental"}),  # notes
    ({"text": "100%"}, {"Bravo Dental"}),  # LIKE wildcards are matched literally
    ({"text": "%"}, {"Bravo Dental"}),
    ({"text": "_"}, {"Bravo Dental"}),  # coverage_plan; an unescaped _ would match every name
    ({"not_contacted_since_days": 30}, {"Alpha Dental", "Bravo Dental", "Charlie HVAC",
                                        "Delta Consulting", "Foxtrot Dental"}),
    ({"not_contacted_since_days": 200}, {"Alpha Dental", "Bravo Dental", "Charlie HVAC",
                                         "Delta Consulting"}),
    ({"industry": ["dentist"], "city": "austin", "rating_min": 4.0,
      "not_contacted_since_days": 30}, {"Alpha Dental"}),
]  # fmt: skip


async def test_search_filters_each_select_exactly_the_matching_accounts(
    crm_backend: CrmBackend,
) -> None:
    a, b = await two_tenants(crm_backend)
    await seed_prospect_book(crm_backend.build, a)
    await seed_prospect_book(crm_backend.build, b)  # same rows in another tenant
    repo = await crm_backend.repository(a)

    for filters, expected in FILTER_CASES:
        found = await names(repo, **filters)
        assert sorted(found) == sorted(expected), filters


async def test_free_text_is_a_literal_substring_and_follows_edits(
    crm_backend: CrmBackend,
) -> None:
    """Free text goes through a trigram index on SQLite and Postgres (migration 0003): the
    words and quotes of the index's own query language are matched as plain text, and the
    index follows renames and deletes."""
    a, b = await two_tenants(crm_backend)
    build = crm_backend.build
    quoted = await build.account(a, "Quote Co", notes='Asked "call me" NEAR noon AND: x*')
    await build.account(a, "Plain Co", notes="call me near noon")
    await build.account(b, "Quote Co", notes='Asked "call me" NEAR noon AND: x*')
    repo = await crm_backend.repository(a)

    assert await names(repo, text='"call me"') == ["Quote Co"]
    assert await names(repo, text="noon AND:") == ["Quote Co"]
    assert await names(repo, text="x*") == ["Quote Co"]
    assert sorted(await names(repo, text="CALL ME")) == ["Plain Co", "Quote Co"]
    assert await names(repo, text="call  me") == []  # two spaces: not a substring

    async with build.db.engine.begin() as conn:
        await conn.execute(
            sa.update(accounts).where(accounts.c.id == quoted).values(name="Renamed Ltd")
        )
    assert await names(repo, text="renamed") == ["Renamed Ltd"]
    assert await names(repo, text="Quote Co") == []
    async with build.db.engine.begin() as conn:
        await conn.execute(sa.delete(accounts).where(accounts.c.id == quoted))
    assert await names(repo, text="renamed") == []


SORT_CASES = [
    (ProspectSort.RATING, True, ["Foxtrot", "Alpha", "Charlie", "Echo", "Bravo", "Delta"]),
    (ProspectSort.RATING, False, ["Bravo", "Echo", "Charlie", "Alpha", "Foxtrot", "Delta"]),
    (ProspectSort.LEAD_SCORE, True, ["Foxtrot", "Alpha", "Charlie", "Bravo", "Echo", "Delta"]),
    (ProspectSort.REVIEW_COUNT, False, ["Echo", "Bravo", "Charlie", "Alpha", "Foxtrot", "Delta"]),
    (ProspectSort.NAME, False, ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"]),
]  # fmt: skip


async def test_search_sorts_with_missing_values_last(crm_backend: CrmBackend) -> None:
    a, _ = await two_tenants(crm_backend)
    await seed_prospect_book(crm_backend.build, a)
    repo = await crm_backend.repository(a)

    for sort, descending, expected in SORT_CASES:
        page = await repo.search_accounts(ProspectSearch(sort=sort, descending=descending))
        assert [item.name.split()[0] for item in page.items] == expected, (sort, descending)


async def test_pagination_walks_every_account_once_in_order(crm_backend: CrmBackend) -> None:
    a, b = await two_tenants(crm_backend)
    for i in range(17):  # ties (i % 3) and missing values (every fourth) cross page edges
        missing = i % 4 == 0
        values: dict[str, Any] = {
            "gmb_rating": None if missing else 3.0 + i % 3,
            "gmb_review_count": None if missing else i % 3,
            "lead_score": None if missing else 10.0 * (i % 3),
            "updated_at": at(2026, 1, 1 + i % 3),
        }
        await crm_backend.build.account(a, f"Account {chr(65 + i % 3)}{i:02d}", **values)
    await crm_backend.build.account(b, "Other tenant", lead_score=50.0)
    repo = await crm_backend.repository(a)

    for sort in ProspectSort:
        for descending in (True, False):
            order = ProspectSearch(sort=sort, descending=descending, limit=100)
            everything = await repo.search_accounts(order)
            walked: list[uuid.UUID] = []
            cursor: str | None = None
            for _ in range(10):
                page = await repo.search_accounts(
                    order.model_copy(update={"limit": 5, "cursor": cursor})
                )
                assert page.total == 17
                walked.extend(item.id for item in page.items)
                cursor = page.next_cursor
                if cursor is None:
                    break
            assert walked == [item.id for item in everything.items], (sort, descending)
            assert len(set(walked)) == 17


async def test_cursor_from_another_search_or_edited_is_refused(crm_backend: CrmBackend) -> None:
    a, _ = await two_tenants(crm_backend)
    await seed_prospect_book(crm_backend.build, a)
    repo = await crm_backend.repository(a)
    first = await repo.search_accounts(ProspectSearch(industry=["dentist"], limit=1))
    assert first.next_cursor is not None
    cursor = first.next_cursor
    edited = cursor[:-3] + ("AAA" if cursor[-3:] != "AAA" else "BBB")

    for search in (
        ProspectSearch(industry=["hvac"], limit=1, cursor=cursor),  # other filters
        ProspectSearch(industry=["dentist"], sort=ProspectSort.NAME, limit=1, cursor=cursor),
        ProspectSearch(industry=["dentist"], limit=1, cursor=edited),
        ProspectSearch(industry=["dentist"], limit=1, cursor="not-a-cursor"),
    ):
        with pytest.raises(ValidationFailedError, match="cursor is not valid"):
            await repo.search_accounts(search)
    # the page size may change between pages
    second = await repo.search_accounts(
        ProspectSearch(industry=["dentist"], limit=5, cursor=cursor)
    )
    assert [x.name for x in second.items] == ["Alpha Dental", "Bravo Dental"]


# -- get_account, list_reviews, list_transactions --------------------------------------------


async def test_get_account_returns_the_full_picture(crm_backend: CrmBackend) -> None:
    build = crm_backend.build
    a, b = await two_tenants(crm_backend)
    acme = await build.account(
        a, "Acme HVAC", industry="hvac", gmb_rating=4.4, google_place_id="place-1",
        gmb_hours={"mon": "8-17"}, gmb_categories=["HVAC contractor"], notes="Prefers email",
    )  # fmt: skip
    other = await build.account(b, "Other", industry="hvac")
    await build.contact(a, acme, first_name="Zed", is_primary=False)
    primary = await build.contact(a, acme, first_name="Ann", is_primary=True)
    await build.contact(b, other, first_name="Intruder")
    await build.deal(a, acme, stage="proposal", amount=5000)
    await build.deal(a, acme, stage="won", amount=9000, closed_at=days_ago(3))
    await build.deal(a, acme, stage="new", amount=100)
    for day in range(12):
        await build.activity(a, acme, subject=f"call {day}", created_at=days_ago(day + 1))
    for day in range(3):
        await build.review(a, acme, rating=5 - day, reviewed_at=days_ago(day))
    await build.qualification(a, acme, 40, created_at=days_ago(10))
    await build.qualification(a, acme, 85, grade="A", created_at=days_ago(1))
    await build.health(a, acme, 90, computed_at=days_ago(20))
    await build.health(a, acme, 35, computed_at=days_ago(2))
    repo = await crm_backend.repository(a)

    detail = await repo.get_account(acme)

    assert (detail.name, detail.industry, detail.gmb_rating) == ("Acme HVAC", "hvac", 4.4)
    assert detail.google_place_id == "place-1" and detail.gmb_hours == {"mon": "8-17"}
    assert detail.gmb_categories == ["HVAC contractor"] and detail.notes == "Prefers email"
    assert [c.first_name for c in detail.contacts] == ["Ann", "Zed"]
    assert detail.contacts[0].id == primary
    assert sorted(d.amount for d in detail.open_deals) == [100, 5000]
    assert [x.subject for x in detail.recent_activities] == [f"call {d}" for d in range(10)]
    assert [r.rating for r in detail.recent_reviews] == [5, 4, 3]
    assert detail.latest_qualification is not None
    assert (detail.latest_qualification.score, detail.latest_qualification.grade) == (85, "A")
    assert detail.latest_health is not None and detail.latest_health.score == 35


async def test_another_tenants_account_is_not_found_like_a_missing_one(
    crm_backend: CrmBackend,
) -> None:
    a, b = await two_tenants(crm_backend)
    theirs = await crm_backend.build.account(b, "Theirs")
    repo = await crm_backend.repository(a)
    missing = uuid.uuid4()

    messages: list[str] = []
    for account_id in (theirs, missing):
        with pytest.raises(NotFoundError) as caught:
            await repo.get_account(account_id)
        messages.append(str(caught.value).replace(str(account_id), "<id>"))
        with pytest.raises(NotFoundError):
            await repo.list_reviews(account_id)
        with pytest.raises(NotFoundError):
            await repo.list_transactions(account_id)

    assert messages[0] == messages[1]
    assert messages[0] == "account <id> is not in this workspace; use search_prospects to find ids"


async def test_list_reviews_and_transactions(crm_backend: CrmBackend) -> None:
    build = crm_backend.build
    a, _ = await two_tenants(crm_backend)
    acme = await build.account(a, "Acme")
    await build.review(a, acme, rating=2, reviewed_at=at(2026, 1, 1))
    await build.review(a, acme, rating=4, reviewed_at=at(2026, 2, 1))
    for month, amount in ((3, 30.0), (1, 10.0), (2, 20.0)):
        await build.transaction(a, acme, amount, at(2026, month, 5))
    repo = await crm_backend.repository(a)

    assert [r.rating for r in await repo.list_reviews(acme)] == [4, 2]
    assert [r.rating for r in await repo.list_reviews(acme, limit=1)] == [4]
    assert [t.amount for t in await repo.list_transactions(acme)] == [10.0, 20.0, 30.0]
    since = await repo.list_transactions(acme, since=at(2026, 2, 1))
    assert [t.amount for t in since] == [20.0, 30.0]


# -- query (query_crm) ----------------------------------------------------------------------


async def transactions_in_two_tenants(backend: CrmBackend) -> uuid.UUID:
    """Tenant A's purchases (hand-checked below); tenant B has big ones in the same months."""
    build = backend.build
    a, b = await two_tenants(backend)
    shop, other = await build.account(a, "Shop"), await build.account(b, "Other")
    for amount, when in (
        (10.0, at(2026, 1, 5)),  # Monday
        (20.0, at(2026, 1, 11)),  # Sunday: same ISO week as the 5th
        (5.0, at(2026, 1, 12)),  # Monday: next week
        (1.0, at(2026, 1, 31, 23)),  # Saturday, late evening UTC: still January
        (7.0, at(2026, 2, 28)),  # Saturday
        (100.0, at(2026, 3, 1)),  # Sunday: the week of Monday 23 February
    ):
        await build.transaction(a, shop, amount, when)
        await build.transaction(b, other, amount * 1000, when)
    return a


async def test_query_sums_by_month_and_by_iso_week(crm_backend: CrmBackend) -> None:
    a = await transactions_in_two_tenants(crm_backend)
    repo = await crm_backend.repository(a)
    sums = [{"fn": "count"}, {"fn": "sum", "field": "amount"}]

    monthly = await repo.query(
        CrmQuery.model_validate(
            {"entity": "transactions", "time_bucket": {"field": "occurred_at", "unit": "month"},
             "metrics": sums}
        )
    )  # fmt: skip
    weekly = await repo.query(
        CrmQuery.model_validate(
            {"entity": "transactions", "time_bucket": {"field": "occurred_at", "unit": "week"},
             "metrics": sums}
        )
    )  # fmt: skip

    assert monthly.columns == ["bucket", "count", "sum_amount"]
    assert monthly.rows == [
        ["2026-01-01", 4, 36.0],
        ["2026-02-01", 1, 7.0],
        ["2026-03-01", 1, 100.0],
    ]
    assert weekly.rows == [
        ["2026-01-05", 2, 30.0],
        ["2026-01-12", 1, 5.0],
        ["2026-01-26", 1, 1.0],
        ["2026-02-23", 2, 107.0],
    ]
    assert (weekly.row_count, weekly.truncated) == (4, False)


async def test_query_groups_filters_and_orders(crm_backend: CrmBackend) -> None:
    build = crm_backend.build
    a, b = await two_tenants(crm_backend)
    for tenant in (a, b):
        acme = await build.account(tenant, "Acme")
        for stage, amount, created in (
            ("new", 100.0, at(2026, 1, 3)),
            ("new", 300.0, at(2026, 2, 3)),
            ("won", 1000.0, at(2026, 1, 9)),
            ("won", 500.0, at(2026, 2, 9)),
            ("lost", 50.0, at(2026, 2, 10)),
        ):
            await build.deal(tenant, acme, stage=stage, amount=amount, created_at=created)
    repo = await crm_backend.repository(a)

    by_stage = await repo.query(
        CrmQuery.model_validate(
            {"entity": "deals", "group_by": ["stage"],
             "metrics": [{"fn": "count"}, {"fn": "sum", "field": "amount"},
                         {"fn": "avg", "field": "amount"}, {"fn": "max", "field": "amount"}]}
        )
    )  # fmt: skip
    open_or_won_by_month = await repo.query(
        CrmQuery.model_validate(
            {"entity": "deals", "group_by": ["stage"],
             "filters": [{"field": "stage", "op": "ne", "value": "lost"},
                         {"field": "created_at", "op": "gte", "value": "2026-01-05"}],
             "time_bucket": {"field": "created_at", "unit": "month"},
             "metrics": [{"fn": "sum", "field": "amount"}],
             "order_by": [{"by": "sum_amount", "descending": True}]}
        )
    )  # fmt: skip

    assert by_stage.columns == ["stage", "count", "sum_amount", "avg_amount", "max_amount"]
    assert by_stage.rows == [  # by count, descending; ties in stage order
        ["new", 2, 400.0, 200.0, 300.0],
        ["won", 2, 1500.0, 750.0, 1000.0],
        ["lost", 1, 50.0, 50.0, 50.0],
    ]
    assert open_or_won_by_month.rows == [
        ["2026-01-01", "won", 1000.0],
        ["2026-02-01", "won", 500.0],
        ["2026-02-01", "new", 300.0],
    ]


async def test_query_lists_records_with_text_filters_and_truncates(
    crm_backend: CrmBackend,
) -> None:
    a, b = await two_tenants(crm_backend)
    await seed_prospect_book(crm_backend.build, a)
    await seed_prospect_book(crm_backend.build, b)
    repo = await crm_backend.repository(a)

    def accounts_query(filters: list[dict[str, Any]], limit: int = 100) -> CrmQuery:
        return CrmQuery.model_validate(
            {"entity": "accounts", "fields": ["name", "gmb_rating"], "filters": filters,
             "order_by": [{"by": "name"}], "limit": limit}
        )  # fmt: skip

    austin = await repo.query(accounts_query([{"field": "city", "op": "contains", "value": "STI"}]))
    unrated = await repo.query(
        accounts_query([{"field": "gmb_rating", "op": "is_null", "value": True}])
    )
    stages = await repo.query(
        accounts_query(
            [{"field": "lifecycle_stage", "op": "in", "value": ["lead", "qualified"]},
             {"field": "gmb_review_count", "op": "lt", "value": 100}]
        )
    )  # fmt: skip
    first_two = await repo.query(accounts_query([], limit=2))

    assert austin.columns == ["name", "gmb_rating"]
    assert austin.rows == [["Alpha Dental", 4.8], ["Bravo Dental", 3.9], ["Echo HVAC", 4.1]]
    assert unrated.rows == [["Delta Consulting", None]]
    assert [row[0] for row in stages.rows] == ["Bravo Dental", "Charlie HVAC"]
    assert first_two.rows == [["Alpha Dental", 4.8], ["Bravo Dental", 3.9]]
    assert (first_two.row_count, first_two.truncated) == (2, True)


# -- pipeline_summary ------------------------------------------------------------------------


async def test_pipeline_summary_for_a_month(crm_backend: CrmBackend) -> None:
    build = crm_backend.build
    a, b = await two_tenants(crm_backend)
    for tenant in (a, b):
        ids: list[uuid.UUID] = []
        for stage in (
            "prospect",
            "prospect",
            "lead",
            "qualified",
            "customer",
            "at_risk",
            "churned",
        ):
            ids.append(await build.account(tenant, stage, lifecycle_stage=stage,
                                           created_at=at(2026, 1, 2)))  # fmt: skip
        await build.account(tenant, "after the period", created_at=at(2026, 3, 2))
        acme = ids[4]
        for stage, amount, created, closed in (
            ("new", 100.0, at(2026, 1, 10), None),
            ("proposal", 200.0, at(2026, 2, 5), None),
            ("negotiation", 300.0, at(2026, 2, 10), None),
            ("won", 1000.0, at(2026, 1, 2), at(2026, 2, 15)),
            ("won", 500.0, at(2026, 2, 3), at(2026, 2, 20)),
            ("won", 9999.0, at(2025, 12, 1), at(2026, 1, 20)),  # closed before the period
            ("lost", 50.0, at(2026, 2, 1, 0), at(2026, 2, 25)),
            ("new", 777.0, at(2026, 3, 5), None),  # created after the period
            ("won", 888.0, at(2026, 1, 5), at(2026, 3, 1, 0)),  # closed at its (open) end
        ):
            await build.deal(tenant, acme, stage=stage, amount=amount, created_at=created,
                             closed_at=closed)  # fmt: skip
    repo = await crm_backend.repository(a)

    summary = await repo.pipeline_summary(at(2026, 2, 1, 0), at(2026, 3, 1, 0))

    assert [(s.stage, s.count, s.value) for s in summary.deals_by_stage] == [
        ("new", 1, 100.0),
        ("proposal", 1, 200.0),
        ("negotiation", 1, 300.0),
        ("won", 2, 1500.0),
        ("lost", 1, 50.0),
    ]
    assert [(s.stage, s.count) for s in summary.accounts_by_lifecycle_stage] == [
        ("prospect", 2), ("lead", 1), ("qualified", 1), ("customer", 1), ("at_risk", 1),
        ("churned", 1),
    ]  # fmt: skip
    assert [(c.from_stage, c.to_stage, c.rate) for c in summary.conversion] == [
        ("new", "proposal", round(4 / 6, 4)),
        ("proposal", "negotiation", 0.75),
        ("negotiation", "won", round(2 / 3, 4)),
        ("prospect", "lead", round(5 / 7, 4)),
        ("lead", "qualified", 0.8),
        ("qualified", "customer", 0.75),
    ]
    assert (summary.won_count, summary.won_revenue, summary.lost_count) == (2, 1500.0, 1)
    assert summary.new_deals == 4


async def test_pipeline_summary_of_an_empty_workspace_has_no_rates(
    crm_backend: CrmBackend,
) -> None:
    a, _ = await two_tenants(crm_backend)
    repo = await crm_backend.repository(a)

    summary = await repo.pipeline_summary(at(2026, 2, 1, 0), at(2026, 3, 1, 0))

    assert all(c.rate is None for c in summary.conversion)
    assert (summary.won_count, summary.won_revenue, summary.new_deals) == (0, 0.0, 0)


# -- writes and the change sink -------------------------------------------------------------


class RecordingSink:
    """Records each change; reads the account's stage through the connection it was given
    (inside the write's transaction, the new value must already be visible)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.changes: list[CrmChange] = []
        self.seen_stage: list[str | None] = []
        self.fail = fail

    async def __call__(self, change: CrmChange, *, connection: Any | None) -> None:
        self.changes.append(change)
        if connection is not None:
            assert connection.in_transaction()
            self.seen_stage.append(
                await connection.scalar(
                    sa.select(accounts.c.lifecycle_stage).where(accounts.c.id == change.account_id)
                )
            )
        if self.fail:
            raise RuntimeError("event store is down")


async def test_update_lifecycle_stage_reports_previous_and_tells_the_sink(
    crm_backend: CrmBackend,
) -> None:
    a, _ = await two_tenants(crm_backend)
    acme = await crm_backend.build.account(a, "Acme", lifecycle_stage="lead")
    sink = RecordingSink()
    repo = await crm_backend.repository(a, sink)

    change = await repo.update_lifecycle_stage(acme, LifecycleStage.QUALIFIED)
    again = await repo.update_lifecycle_stage(acme, LifecycleStage.QUALIFIED)

    assert (change.previous_stage, change.new_stage, change.changed) == ("lead", "qualified", True)
    assert (again.previous_stage, again.changed) == ("qualified", False)
    assert [(c.kind, c.account_id, c.data) for c in sink.changes] == [
        ("lifecycle_stage", acme, {"previous_stage": "lead", "new_stage": "qualified"})
    ]
    if crm_backend.sink_in_transaction:
        assert sink.seen_stage == ["qualified"]
    stored = await crm_backend.build.scalar(
        sa.select(accounts.c.lifecycle_stage).where(accounts.c.id == acme)
    )
    assert stored == "qualified"


async def test_a_sink_that_fails_rolls_the_write_back(crm_backend: CrmBackend) -> None:
    if not crm_backend.sink_in_transaction:
        pytest.skip(f"{crm_backend.name} tells the sink after its write has committed")
    a, _ = await two_tenants(crm_backend)
    acme = await crm_backend.build.account(a, "Acme", lifecycle_stage="lead")
    repo = await crm_backend.repository(a, RecordingSink(fail=True))

    with pytest.raises(RuntimeError, match="event store is down"):
        await repo.update_lifecycle_stage(acme, LifecycleStage.CUSTOMER)
    with pytest.raises(RuntimeError):
        await repo.log_activity(NewActivity(account_id=acme, kind=ActivityKind.CALL, subject="x"))

    build = crm_backend.build
    stage = sa.select(accounts.c.lifecycle_stage).where(accounts.c.id == acme)
    assert await build.scalar(stage) == "lead"
    assert await build.scalar(count_of(activities, activities.c.account_id == acme)) == 0


async def test_log_activity_checks_the_contact_and_schedules_follow_ups(
    crm_backend: CrmBackend,
) -> None:
    build = crm_backend.build
    a, _ = await two_tenants(crm_backend)
    acme, globex = await build.account(a, "Acme"), await build.account(a, "Globex")
    ann = await build.contact(a, acme, first_name="Ann")
    stranger = await build.contact(a, globex, first_name="Gil")
    sink = RecordingSink()
    repo = await crm_backend.repository(a, sink)
    due = days_ago(-3)

    logged = await repo.log_activity(
        NewActivity(account_id=acme, kind=ActivityKind.FOLLOW_UP_CALL, subject="Call back",
                    contact_id=ann, due_at=due)
    )  # fmt: skip
    with pytest.raises(ValidationFailedError, match="not a contact of account"):
        await repo.log_activity(
            NewActivity(account_id=acme, kind=ActivityKind.CALL, subject="x", contact_id=stranger)
        )

    assert (logged.kind, logged.contact_id, logged.due_at, logged.created_by) == (
        "follow_up_call", ann, due, "agent"
    )  # fmt: skip
    detail = await repo.get_account(acme)
    assert [x.id for x in detail.recent_activities] == [logged.id]
    assert detail.recent_activities[0].due_at == due
    assert [(c.kind, c.data["activity_kind"]) for c in sink.changes] == [
        ("activity", "follow_up_call")
    ]


async def test_create_campaign_and_record_scores(crm_backend: CrmBackend) -> None:
    build = crm_backend.build
    a, _ = await two_tenants(crm_backend)
    acme = await build.account(a, "Acme", lead_score=10.0)
    sink = RecordingSink()
    repo = await crm_backend.repository(a, sink)

    draft = await repo.create_campaign(
        NewCampaign(name="Win back", kind=CampaignKind.RETENTION, channel=CampaignChannel.SMS,
                    account_id=acme, message="We miss you")
    )  # fmt: skip
    scheduled = await repo.create_campaign(
        NewCampaign(name="Spring", kind=CampaignKind.ACQUISITION, channel=CampaignChannel.EMAIL,
                    scheduled_at=days_ago(-7), audience={"industry": ["dentist"]})
    )  # fmt: skip
    qualification = await repo.record_lead_qualification(
        NewLeadQualification(account_id=acme, score=82, grade="A", model_version="v2",
                             factors=[{"name": "rating", "weight": 0.4}])
    )  # fmt: skip
    health = await repo.record_health_score(
        NewHealthScore(account_id=acme, score=41, churn_probability=0.6, method="rfm")
    )

    assert (draft.status, scheduled.status) == ("draft", "scheduled")
    assert scheduled.audience == {"industry": ["dentist"]}
    assert await build.scalar(count_of(campaigns, campaigns.c.tenant_id == a)) == 2
    detail = await repo.get_account(acme)
    assert detail.lead_score == 82
    assert detail.latest_qualification is not None
    assert detail.latest_qualification.id == qualification.id
    assert detail.latest_qualification.factors == [{"name": "rating", "weight": 0.4}]
    assert detail.latest_health is not None and detail.latest_health.id == health.id
    assert [c.kind for c in sink.changes] == [
        "campaign", "campaign", "lead_qualification", "health_score"
    ]  # fmt: skip


async def test_tenant_a_cannot_write_to_tenant_b(crm_backend: CrmBackend) -> None:
    build = crm_backend.build
    a, b = await two_tenants(crm_backend)
    theirs = await build.account(b, "Theirs", lifecycle_stage="lead", lead_score=5.0)
    their_contact = await build.contact(b, theirs)
    await build.account(a, "Ours")
    sink = RecordingSink()
    repo = await crm_backend.repository(a, sink)

    writes = [
        repo.update_lifecycle_stage(theirs, LifecycleStage.CHURNED),
        repo.log_activity(NewActivity(account_id=theirs, kind=ActivityKind.NOTE, subject="x")),
        repo.create_campaign(
            NewCampaign(
                name="x",
                kind=CampaignKind.RETENTION,
                channel=CampaignChannel.SMS,
                account_id=theirs,
            )
        ),
        repo.record_lead_qualification(
            NewLeadQualification(account_id=theirs, score=99, grade="A", model_version="v")
        ),
        repo.record_health_score(NewHealthScore(account_id=theirs, score=1, churn_probability=1)),
    ]
    for write in writes:
        with pytest.raises(NotFoundError, match="is not in this workspace"):
            await write

    assert sink.changes == []
    stage_and_score = sa.select(accounts.c.lifecycle_stage, accounts.c.lead_score)
    async with build.db.engine.connect() as conn:
        row = (await conn.execute(stage_and_score.where(accounts.c.id == theirs))).one()
    assert tuple(row) == ("lead", 5.0)
    for table in (activities, campaigns, ai_lead_qualification):
        assert await build.scalar(count_of(table, table.c.tenant_id.in_([a, b]))) == 0
    assert their_contact  # B's contact stays B's: A cannot log an activity against it either
    with pytest.raises(NotFoundError):
        await repo.log_activity(
            NewActivity(account_id=theirs, kind=ActivityKind.CALL, subject="x",
                        contact_id=their_contact)
        )  # fmt: skip
    search = await repo.search_accounts(ProspectSearch(text="Theirs"))
    assert search.total == 0
    listed = await repo.query(CrmQuery.model_validate({"entity": "accounts", "fields": ["name"]}))
    assert listed.rows == [["Ours"]]
