"""Google Maps items -> de-duplicated CRM prospects, handed to a sink.

A business is the same business when it shares a Google place id, a phone number
(digits, last ten) or a website domain with one seen before. The item field names are
those of `compass~crawler-google-places` (unverified for other actors): `FIELD_MAP`
can be replaced per call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from orchestration.platforms.apify import ApifyAdapter
from orchestration.platforms.errors import PlatformRequestError
from orchestration.platforms.jsonshape import as_dict, as_list, dicts, text

__all__ = [
    "FIELD_MAP",
    "CollectionReport",
    "ProspectSink",
    "collect_prospects",
    "dedup_keys",
    "normalise_business",
]

# accounts column -> Google Maps item field
FIELD_MAP: dict[str, str] = {
    "name": "title",
    "industry": "categoryName",
    "address": "address",
    "city": "city",
    "region": "state",
    "country": "countryCode",
    "phone": "phone",
    "website": "website",
    "google_place_id": "placeId",
    "gmb_rating": "totalScore",
    "gmb_review_count": "reviewsCount",
    "gmb_hours": "openingHours",
    "gmb_photos_count": "imagesCount",
}


class ProspectSink(Protocol):
    """Where prospects go. An implementation inserts the account (and its reviews) through
    the CRM repository and publishes `prospect_identified` in the same transaction when
    the account is new; it returns whether it was new (a known place id is not)."""

    async def add_prospect(
        self, account: dict[str, Any], reviews: list[dict[str, Any]]
    ) -> bool: ...


@dataclass
class CollectionReport:
    run_id: str
    status: str
    items: int = 0
    duplicates: int = 0
    skipped: int = 0  # items without a name
    new: int = 0
    existing: int = 0
    new_place_ids: list[str] = field(default_factory=list[str])

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def normalise_business(
    item: Mapping[str, Any], field_map: Mapping[str, str] = FIELD_MAP
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """An `accounts` row (without tenant/id) and its recent reviews; None without a name."""
    get = {column: item.get(source) for column, source in field_map.items()}
    name = text(get.get("name"))
    if not name:
        return None
    rating = _number(get.get("gmb_rating"))
    reviews_count = _number(get.get("gmb_review_count"))
    photos = _number(get.get("gmb_photos_count"))
    categories = [str(c) for c in as_list(item.get("categories"))] or (
        [name_] if (name_ := text(get.get("industry"))) else []
    )
    website = text(get.get("website"))
    account: dict[str, Any] = {
        "name": name.strip(),
        "industry": text(get.get("industry")),
        "address": text(get.get("address")),
        "city": text(get.get("city")),
        "region": text(get.get("region")),
        "country": text(get.get("country")),
        "phone": text(get.get("phone")),
        "website": website,
        "google_place_id": text(get.get("google_place_id")),
        "gmb_rating": rating if rating is not None and 0 <= rating <= 5 else None,
        "gmb_review_count": int(reviews_count) if reviews_count is not None else None,
        "gmb_hours": as_list(get.get("gmb_hours")) or None,
        "gmb_photos_count": int(photos) if photos is not None else None,
        "gmb_categories": categories or None,
        "lifecycle_stage": "prospect",
        "source": "apify",
    }
    reviews: list[dict[str, Any]] = []
    for review in dicts(item.get("reviews")):
        stars = _number(review.get("stars"))
        if stars is None or not 1 <= stars <= 5:
            continue
        reviews.append(
            {
                "rating": int(stars),
                "text": text(review.get("text")),
                "author": text(review.get("name")),
                "reviewed_at": text(review.get("publishedAtDate")),
                "owner_response": text(review.get("responseFromOwnerText")),
                "source": "google",
            }
        )
    return account, reviews


def _domain(website: str | None) -> str | None:
    if not website:
        return None
    host = urlsplit(website if "//" in website else f"//{website}").hostname or ""
    host = host.lower().removeprefix("www.")
    return host or None


def dedup_keys(account: Mapping[str, Any]) -> set[str]:
    keys: set[str] = set()
    if place := account.get("google_place_id"):
        keys.add(f"place:{place}")
    digits = re.sub(r"\D", "", str(account.get("phone") or ""))
    if len(digits) >= 7:
        keys.add(f"phone:{digits[-10:]}")
    if domain := _domain(account.get("website")):
        keys.add(f"domain:{domain}")
    return keys


async def collect_prospects(
    adapter: ApifyAdapter,
    run_id: str,
    sink: ProspectSink,
    *,
    deadline_s: float = 3600.0,
    field_map: Mapping[str, str] = FIELD_MAP,
) -> CollectionReport:
    """Wait for the run, page through its dataset, hand each distinct business to `sink`.

    Raises PlatformRequestError when the run ended FAILED, TIMED-OUT or ABORTED (its items
    may be partial: nothing is added, so a re-run does not mix halves).
    """
    run = await adapter.wait_for_run(run_id, deadline_s=deadline_s)
    status = str(run.get("status"))
    report = CollectionReport(run_id=run_id, status=status)
    if status != "SUCCEEDED":
        raise PlatformRequestError(
            f"Apify run {run_id} ended {status}; see the run's log in Apify, then start the "
            "collection again",
            platform="apify",
            code=status,
        )
    dataset_id = text(run.get("defaultDatasetId"))
    if not dataset_id:
        raise PlatformRequestError(f"Apify run {run_id} has no dataset", platform="apify")
    seen: set[str] = set()
    async for item in adapter.dataset_items(dataset_id):
        report.items += 1
        normalised = normalise_business(as_dict(item), field_map)
        if normalised is None:
            report.skipped += 1
            continue
        account, reviews = normalised
        keys = dedup_keys(account)
        if keys & seen:
            report.duplicates += 1
            continue
        seen |= keys
        if await sink.add_prospect(account, reviews):
            report.new += 1
            if account["google_place_id"]:
                report.new_place_ids.append(account["google_place_id"])
        else:
            report.existing += 1
    return report
