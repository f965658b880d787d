from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from orchestration.platforms.apify import GMB_ACTOR, ApifyAdapter, gmb_actor_input
from orchestration.platforms.apify_prospects import collect_prospects, normalise_business
from orchestration.platforms.base import ExecutionContext, ResultStatus
from orchestration.platforms.config_store import Credentials, ToolConfig
from orchestration.platforms.errors import (
    PlatformAuthError,
    PlatformNotFoundError,
    PlatformRequestError,
)
from orchestration.platforms.resilience import ResilienceRegistry
from tests.fakes.apify import ApifyFake

TOKEN = "apify_api_SECRET_abcdef"


def place(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "title": f"Dental {n}",
        "placeId": f"ChIJ{n}",
        "totalScore": 4.5,
        "reviewsCount": 10 + n,
        "phone": f"+1 512-555-{n:04d}",
        "website": f"https://www.dental{n}.com/",
        "city": "Austin",
        "state": "Texas",
        "countryCode": "US",
        "categoryName": "Dentist",
        "imagesCount": 3,
        "openingHours": [{"day": "Monday", "hours": "9 AM to 5 PM"}],
        "reviews": [
            {"stars": 5, "text": "Great", "name": "Ann", "publishedAtDate": "2026-10-01T00:00:00Z"}
        ],
        **extra,
    }


class Definition:
    name = "Google Maps collection"
    platform_refs = None


class RecordingSink:
    def __init__(self, known: set[str] | None = None) -> None:
        self.added: list[dict[str, Any]] = []
        self.known = known or set()

    async def add_prospect(self, account: dict[str, Any], reviews: list[dict[str, Any]]) -> bool:
        self.added.append(account)
        return account["google_place_id"] not in self.known


@pytest.fixture
def fake() -> ApifyFake:
    fake = ApifyFake(token=TOKEN)
    items = [place(i) for i in range(1, 8)]
    items.append(place(1, placeId="other"))  # same phone/site as #1: a duplicate
    items.append(place(99, phone="+1 (512) 555-0002", website=None, placeId="x99"))  # phone dup
    items.append({"title": "", "placeId": "noname"})
    fake.add_actor(GMB_ACTOR, items)
    fake.add_actor("me~failing", [], statuses=("READY", "RUNNING", "FAILED"))
    return fake


def adapter_for(
    fake: ApifyFake, tenant_id: uuid.UUID, registry: ResilienceRegistry, token: str = TOKEN
) -> ApifyAdapter:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake.app()))
    config = ToolConfig(
        tenant_id=tenant_id,
        tool_name="apify",
        api_endpoint="http://apify.test/v2",
        credentials=Credentials({"api_token": token}, tool="apify"),
    )
    return ApifyAdapter(client, config, registry=registry)


def test_actor_input_fills_the_spec_queries_with_the_location() -> None:
    actor_input, unsupported = gmb_actor_input("Austin, TX")
    assert actor_input["searchStringsArray"] == [
        "dentists near Austin, TX",
        "HVAC contractors Austin, TX",
        "business consultants Austin, TX",
    ]
    assert actor_input["locationQuery"] == "Austin, TX"
    assert actor_input["maxReviews"] >= 5 and actor_input["maxImages"] == 1
    assert "scrapeSocialMediaProfiles" in actor_input
    assert unsupported == ["website_technology_analysis"]
    with pytest.raises(PlatformRequestError, match="location"):
        gmb_actor_input("  ")


async def test_collection_runs_pages_and_deduplicates_into_prospects(
    fake: ApifyFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    adapter = adapter_for(fake, tenant_id, registry)
    started = await adapter.execute_workflow(
        Definition(),
        ExecutionContext(
            tenant_id=tenant_id, idempotency_key="k", payload={"location": "Austin, TX"}
        ),
    )
    assert started.status is ResultStatus.RUNNING
    run_id = started.external_execution_id or ""
    assert fake.runs[run_id]["input"]["locationQuery"] == "Austin, TX"
    assert fake.plan.requests[0].headers["authorization"] == f"Bearer {TOKEN}"

    sink = RecordingSink(known={"ChIJ3"})
    report = await collect_prospects(adapter, run_id, sink)
    assert report.status == "SUCCEEDED" and report.items == 10
    assert report.duplicates == 2 and report.skipped == 1
    assert report.new == 6 and report.existing == 1
    assert len({a["google_place_id"] for a in sink.added}) == 7
    first = sink.added[0]
    assert first["gmb_rating"] == 4.5 and first["region"] == "Texas" and first["source"] == "apify"


async def test_dataset_pages_follow_offset_and_limit(
    fake: ApifyFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    adapter = adapter_for(fake, tenant_id, registry)
    run = await adapter.start_run(GMB_ACTOR, {})
    items = [i async for i in adapter.dataset_items(run["defaultDatasetId"], page_size=3)]
    assert len(items) == 10
    offsets = [r.query["offset"] for r in fake.plan.matching("GET", "/v2/datasets/")]
    assert offsets == ["0", "3", "6", "9"]


async def test_failed_run_is_reported_not_half_imported(
    fake: ApifyFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    adapter = adapter_for(fake, tenant_id, registry)
    run = await adapter.start_run("me~failing", {})
    sink = RecordingSink()
    with pytest.raises(PlatformRequestError, match="ended FAILED") as info:
        await collect_prospects(adapter, run["id"], sink)
    assert info.value.code == "FAILED" and sink.added == []


async def test_error_bodies_map_to_specific_errors(
    fake: ApifyFake, tenant_id: uuid.UUID, registry: ResilienceRegistry
) -> None:
    adapter = adapter_for(fake, tenant_id, registry)
    with pytest.raises(PlatformNotFoundError, match="was not found") as info:
        await adapter.start_run("nobody~nothing", {})
    assert info.value.code == "record-not-found"
    wrong = "apify_api_WRONG_000000"
    with pytest.raises(PlatformAuthError) as auth:
        await adapter_for(fake, tenant_id, registry, token=wrong).get_run("run00001")
    assert wrong not in str(auth.value)


def test_normalise_drops_out_of_range_values_and_keeps_reviews() -> None:
    normalised = normalise_business(place(5, totalScore=9, reviews=[{"stars": 0}]))
    assert normalised is not None
    account, reviews = normalised
    assert account["gmb_rating"] is None and reviews == []
    assert normalise_business({"title": None}) is None
