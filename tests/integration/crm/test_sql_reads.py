"""get_account and search_accounts of the `sql` data source return exactly what the plain
reads return, on Postgres (one statement, lists as JSON) and on SQLite, whether the read ran
on the event loop or was handed to a thread (sqlite_reads)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.crm import sql as sql_module
from shared.crm import sqlite_reads
from shared.crm.models import AccountDetail, AccountSummary, ProspectSearch, ProspectSort
from shared.crm.sql import SqlCrmRepository
from shared.crm.sqlite_reads import sqlite_reader
from shared.db.database import Database
from shared.errors import NotFoundError
from tests.contract.crm.builders import CrmBuilder, at, days_ago
from tests.integration.crm.reference_reads import reference_account


@pytest.fixture(params=["sqlite-inline", "sqlite-thread", "postgres"])
def reads(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Database:
    """A store, and on SQLite where its reads run: all on the loop (a budget nothing
    exceeds), or all handed to a thread (a budget every read exceeds at its first check)."""
    backend, _, where = str(request.param).partition("-")
    if where == "inline":
        monkeypatch.setattr(sqlite_reads, "INLINE_BUDGET_SECONDS", 60.0)
    if where == "thread":
        monkeypatch.setattr(sqlite_reads, "INLINE_BUDGET_SECONDS", -1.0)
        monkeypatch.setattr(sqlite_reads, "_CHECK_EVERY_STEPS", 1)
    db: Database = request.getfixturevalue(
        "copied_sqlite_db" if backend == "sqlite" else "postgres_db"
    )
    return db


def assert_ran_where_asked(db: Database, request: pytest.FixtureRequest) -> None:
    if db.target.is_sqlite:
        handed_off = sqlite_reader(db).handed_off
        assert (handed_off > 0) == str(request.node.callspec.params["reads"]).endswith("thread")


async def busy_account(build: CrmBuilder, tenant: uuid.UUID) -> uuid.UUID:
    """An account with more of everything than get_account shows, ties in every order, NULLs
    where an order could trip on them, and JSON columns."""
    acme = await build.account(
        tenant, "Acme HVAC", industry="hvac", city="Austin", gmb_rating=4.4, lead_score=61.5,
        gmb_review_count=87, gmb_hours={"mon": "8-17", "sat": None}, gmb_photos_count=12,
        gmb_categories=["HVAC contractor", "Plumber"], notes="Prefers email",
        google_place_id=f"place-{uuid.uuid4().hex}", website="https://acme.example",
        updated_at=at(2026, 3, 1), created_at=at(2025, 1, 2),
    )  # fmt: skip
    for first, last, primary in (
        ("Zed", "Young", False), ("Ann", "Smith", True), ("Bob", None, True),
        ("Cy", None, False), ("Di", "Adams", False), ("Ed", "Adams", False),
    ):  # fmt: skip
        await build.contact(tenant, acme, first_name=first, last_name=last, is_primary=primary)
    same_day = at(2026, 2, 1)
    for stage, created in (
        ("new", same_day), ("proposal", same_day), ("negotiation", at(2026, 2, 3)),
        ("won", at(2026, 2, 4)), ("lost", at(2026, 2, 5)), ("new", at(2025, 12, 1)),
    ):  # fmt: skip
        await build.deal(
            tenant, acme, stage=stage, amount=1234.5, created_at=created,
            expected_close_date=at(2026, 4, 1).date(),
            closed_at=at(2026, 2, 6) if stage in ("won", "lost") else None,
        )  # fmt: skip
    for i in range(13):  # three share the tenth newest instant: the limit cuts a tie
        created = at(2026, 1, 20 - i) if i < 8 else at(2026, 1, 11)
        await build.activity(
            tenant, acme, subject=f"call {i}", created_at=created, due_at=days_ago(-i),
            done_at=at(2026, 1, 21) if i % 2 else None, created_by="automation",
        )  # fmt: skip
    for i in range(12):
        await build.review(
            tenant, acme, rating=1 + i % 5, reviewed_at=at(2026, 1, 1 + i // 2),
            text=f"review {i}", author="Kim", owner_response="Thanks" if i % 3 else None,
        )  # fmt: skip
    await build.qualification(tenant, acme, 40, created_at=at(2026, 1, 1))
    await build.qualification(
        tenant, acme, 85, grade="A", created_at=at(2026, 2, 1),
        factors=[{"name": "rating", "weight": 0.4}], recommended_action="call",
    )  # fmt: skip
    await build.health(tenant, acme, 90, computed_at=at(2026, 1, 1))
    await build.health(
        tenant, acme, 35, computed_at=at(2026, 2, 2), drivers=[{"recency": -3}], method="rfm"
    )
    return acme


async def test_get_account_returns_what_the_plain_reads_return(
    reads: Database, request: pytest.FixtureRequest
) -> None:
    build = CrmBuilder(reads)
    a, b = await build.tenant(), await build.tenant()
    acme = await busy_account(build, a)
    await busy_account(build, b)  # the same again in another tenant
    bare = await build.account(a, "Bare")
    repo = SqlCrmRepository(reads, a)

    for account_id in (acme, bare):
        fast = await repo.get_account(account_id)
        expected = await reference_account(reads, a, account_id)
        assert expected is not None
        assert fast == expected
        assert repr(fast) == repr(expected)  # same types too (datetimes in datetime.UTC)

    detail = await repo.get_account(acme)
    assert [c.first_name for c in detail.contacts][:2] in (["Ann", "Bob"], ["Bob", "Ann"])
    assert sorted(d.stage for d in detail.open_deals) == ["negotiation", "new", "new", "proposal"]
    assert len(detail.recent_activities) == 10 and len(detail.recent_reviews) == 10
    assert detail.latest_qualification is not None and detail.latest_qualification.score == 85
    assert detail.latest_qualification.factors == [{"name": "rating", "weight": 0.4}]
    assert detail.latest_health is not None and detail.latest_health.drivers == [{"recency": -3}]
    assert detail.gmb_hours == {"mon": "8-17", "sat": None}
    assert (await repo.get_account(bare)).latest_health is None
    assert_ran_where_asked(reads, request)


async def test_another_tenants_account_is_missing_the_same_way(
    reads: Database, request: pytest.FixtureRequest
) -> None:
    build = CrmBuilder(reads)
    a, b = await build.tenant(), await build.tenant()
    theirs = await busy_account(build, b)
    repo = SqlCrmRepository(reads, a)

    messages: list[str] = []
    for account_id in (theirs, uuid.uuid4()):
        with pytest.raises(NotFoundError) as caught:
            await repo.get_account(account_id)
        messages.append(str(caught.value).replace(str(account_id), "<id>"))
    assert (
        messages == ["account <id> is not in this workspace; use search_prospects to find ids"] * 2
    )
    assert_ran_where_asked(reads, request)


def book_values(i: int) -> dict[str, Any]:
    """Account i of a 30-account book: ties and NULLs in every sort column."""
    return {
        "industry": ("dentist", "hvac", None)[i % 3],
        "city": ("Austin", "austin", "Dallas", None)[i % 4],
        "gmb_rating": (None, 3.5, 4.0, 4.5, 5.0)[i % 5],
        "gmb_review_count": (None, 10, 20)[i % 3],
        "lead_score": None if i % 4 == 0 else float(i % 7 * 10),
        "lifecycle_stage": ("prospect", "lead", "customer")[i % 3],
        "website": ("https://x.example", "", None)[i % 3],
        "notes": "Dental clinic" if i % 3 == 0 else None,
        "updated_at": at(2026, 1, 1 + i % 5),
    }


def book_name(i: int) -> str:
    return f"Account {i:02d}" + (" Smile" if i % 4 == 0 else "")


def matches(search: ProspectSearch, name: str, row: dict[str, Any]) -> bool:
    """The meaning of the filters these tests use, in plain Python."""
    text = (search.text or "").lower()
    rating, score = row["gmb_rating"], row["lead_score"]
    return (
        (not search.industry or row["industry"] in search.industry)
        and (not search.city or (row["city"] or "").lower() == search.city.lower())
        and (search.rating_min is None or (rating is not None and rating >= search.rating_min))
        and (
            search.lead_score_max is None or (score is not None and score <= search.lead_score_max)
        )
        and (
            not search.lifecycle_stage
            or row["lifecycle_stage"] in [s.value for s in search.lifecycle_stage]
        )
        and (search.has_website is None or bool(row["website"]) == search.has_website)
        and (not text or text in name.lower() or text in (row["notes"] or "").lower())
    )


Book = dict[uuid.UUID, dict[str, Any]]  # account id -> the values it was made with


def expected_order(search: ProspectSearch, book: Book) -> list[uuid.UUID]:
    """Sorted by the sort column (ties by id) in the asked direction, NULLs last."""
    column = {ProspectSort.NAME: "name", ProspectSort.RATING: "gmb_rating",
              ProspectSort.REVIEW_COUNT: "gmb_review_count", ProspectSort.LEAD_SCORE: "lead_score",
              ProspectSort.UPDATED_AT: "updated_at"}[search.sort]  # fmt: skip
    found = [(row[column], key) for key, row in book.items() if matches(search, row["name"], row)]
    valued = sorted(
        ((v, key.int, key) for v, key in found if v is not None), reverse=search.descending
    )
    unvalued = sorted(((key.int, key) for v, key in found if v is None), reverse=search.descending)
    return [key for *_, key in valued] + [key for _, key in unvalued]


SEARCHES: list[dict[str, Any]] = [
    {},
    {"sort": "gmb_rating", "descending": False},
    {"sort": "name", "descending": False, "industry": ["dentist"]},
    {"sort": "gmb_review_count", "city": "AUSTIN"},
    {"sort": "updated_at", "rating_min": 4.0},
    {"has_website": False, "lifecycle_stage": ["prospect", "lead"]},
    {"text": "dental", "sort": "name"},  # notes, through the trigram index
    {"text": "smi", "sort": "gmb_rating"},
    {"text": "7"},  # too short for a trigram: a scan
    {"lead_score_max": 50, "descending": False},
    {"industry": ["nobody"]},
]


async def test_search_pages_walk_the_expected_order_with_the_same_totals(
    reads: Database, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_module, "TOTAL_COUNT_CAP", 9)  # some searches pass it, some not
    build = CrmBuilder(reads)
    a, b = await build.tenant(), await build.tenant()
    book: Book = {}
    for i in range(30):
        values = book_values(i)
        book[await build.account(a, book_name(i), **values)] = {"name": book_name(i), **values}
        await build.account(b, book_name(i), **values)  # lookalikes in another tenant
    repo = SqlCrmRepository(reads, a)
    summaries: dict[uuid.UUID, AccountSummary] = {}
    for account_id in book:
        detail = await reference_account(reads, a, account_id)
        assert isinstance(detail, AccountDetail)
        summaries[account_id] = AccountSummary.model_validate(
            detail.model_dump(include=set(AccountSummary.model_fields))
        )

    for filters in SEARCHES:
        search = ProspectSearch.model_validate({**filters, "limit": 4})
        expected = expected_order(search, book)
        walked: list[AccountSummary] = []
        cursor: str | None = None
        for _ in range(10):
            page = await repo.search_accounts(search.model_copy(update={"cursor": cursor}))
            walked += page.items
            if cursor is None and len(expected) <= 4:
                assert (page.total, page.total_at_least) == (len(expected), False), filters
            else:
                assert page.total == min(len(expected), 9), filters
                assert page.total_at_least == (len(expected) > 9), filters
            cursor = page.next_cursor
            if cursor is None:
                break
        assert [item.id for item in walked] == expected, filters
        assert walked == [summaries[key] for key in expected], filters
        assert [repr(item) for item in walked] == [repr(summaries[key]) for key in expected]
    assert_ran_where_asked(reads, request)


async def test_postgres_lists_come_back_in_utc_whatever_the_session_time_zone(
    postgres_url: str, postgres_db: Database
) -> None:
    """The lists travel as JSON, which spells timestamps in the session's time zone."""
    build = CrmBuilder(postgres_db)
    a = await build.tenant()
    acme = await busy_account(build, a)
    kolkata = Database.from_url(
        postgres_url, connect_args={"server_settings": {"TimeZone": "Asia/Kolkata"}}
    )
    try:
        detail = await SqlCrmRepository(kolkata, a).get_account(acme)
    finally:
        await kolkata.dispose()

    expected = await reference_account(postgres_db, a, acme)
    assert detail == expected
    assert repr(detail) == repr(expected)
    assert detail.recent_activities[0].created_at == at(2026, 1, 20)
