"""Apify API v2: start the Google Maps collection, follow the run, page the dataset.

Auth `Authorization: Bearer <token>`; actor ids are `username~actor-name`. Starting a
run is not idempotent, so it is never retried after it may have reached Apify; reads
are. Normalising and de-duplicating the businesses is in `apify_prospects.py`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from orchestration.platforms.adapter import HttpAdapterBase, error_from_response, json_body
from orchestration.platforms.base import (
    ExecutionContext,
    PlatformDefinition,
    ResultStatus,
    ToolCapability,
    WorkflowResult,
    platform_ref,
)
from orchestration.platforms.config_store import ToolConfig
from orchestration.platforms.errors import PlatformRequestError, PlatformTimeoutError
from orchestration.platforms.jsonshape import as_dict, as_list, dicts, text
from orchestration.platforms.resilience import ResilienceRegistry, RetryPolicy

__all__ = [
    "APIFY_API",
    "GMB_ACTOR",
    "GMB_COLLECTION_CONFIG",
    "TERMINAL_STATUSES",
    "ApifyAdapter",
    "gmb_actor_input",
]

APIFY_API = "https://api.apify.com/v2"
GMB_ACTOR = "compass~crawler-google-places"
TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED-OUT", "ABORTED"})

# The spec's configuration, verbatim.
GMB_COLLECTION_CONFIG: dict[str, list[str]] = {
    "search_queries": [
        "dentists near [location]",
        "HVAC contractors [location]",
        "business consultants [location]",
    ],
    "data_points": [
        "business_name",
        "rating",
        "review_count",
        "hours",
        "website",
        "phone",
        "address",
        "photos",
        "recent_reviews",
        "competitor_analysis",
    ],
    "enrichment_sources": [
        "website_technology_analysis",
        "social_media_presence",
        "online_reputation_monitoring",
    ],
}

# Enrichment the Google Maps actor can do itself; the rest is reported as not done.
_ENRICHMENT_INPUT: dict[str, dict[str, Any]] = {
    "social_media_presence": {
        "scrapeSocialMediaProfiles": {"facebooks": True, "instagrams": True, "twitters": True}
    },
    "online_reputation_monitoring": {"maxReviews": 20, "reviewsSort": "newest"},
}


def gmb_actor_input(
    location: str,
    config: Mapping[str, Any] | None = None,
    *,
    max_places_per_search: int = 50,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The actor input for the spec's config at `location`, and the enrichment sources
    this actor cannot provide (so the caller can say so instead of pretending).

    Input field names are those of `compass~crawler-google-places` (unverified against
    other actors): `overrides` replaces any of them.
    """
    if not location.strip():
        raise PlatformRequestError(
            "a Google Maps collection needs a location, e.g. 'Austin, TX'", platform="apify"
        )
    cfg = dict(config or GMB_COLLECTION_CONFIG)
    queries = [
        str(q).replace("[location]", location).strip() for q in as_list(cfg.get("search_queries"))
    ]
    points = {str(p) for p in as_list(cfg.get("data_points"))}
    actor_input: dict[str, Any] = {
        "searchStringsArray": queries,
        "locationQuery": location,
        "maxCrawledPlacesPerSearch": max_places_per_search,
        "language": "en",
        "maxImages": 1 if "photos" in points else 0,
        "maxReviews": 5 if "recent_reviews" in points else 0,
        "skipClosedPlaces": True,
    }
    unsupported: list[str] = []
    for source in as_list(cfg.get("enrichment_sources")):
        extra = _ENRICHMENT_INPUT.get(str(source))
        if extra is None:
            unsupported.append(str(source))
        else:
            for key, value in extra.items():
                if key == "maxReviews":
                    actor_input[key] = max(int(actor_input.get(key, 0)), int(value))
                else:
                    actor_input[key] = value
    actor_input.update(overrides or {})
    return actor_input, unsupported


def _message(body: Any) -> str | None:
    error = as_dict(as_dict(body).get("error"))
    return text(error.get("message"))


def _code(body: Any) -> str | None:
    return text(as_dict(as_dict(body).get("error")).get("type"))


class ApifyAdapter(HttpAdapterBase):
    name = "apify"
    default_per_minute = 250.0  # Apify allows far more per resource; this keeps us polite
    capabilities = frozenset({ToolCapability.BUSINESS_COLLECTION, ToolCapability.RUN_WORKFLOW})

    def __init__(
        self,
        client: httpx.AsyncClient,
        config: ToolConfig,
        *,
        registry: ResilienceRegistry | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        token = config.credentials.require("api_token")
        super().__init__(
            client,
            config,
            base_url=config.endpoint(APIFY_API),
            headers={"Authorization": f"Bearer {token}"},
            registry=registry,
            policy=policy,
            timeout=90.0,  # waitForFinish holds a request up to 60 s
        )

    async def _call(self, method: str, path: str, what: str, **kw: Any) -> Any:
        response = await self.http.request(method, path, **kw)
        if response.status_code >= 400:
            raise error_from_response(self.http, response, what, _message, _code)
        return json_body(self.http, response, what)

    async def _probe(self) -> None:
        await self._call("GET", "/users/me", "read the authorised user")

    async def start_run(
        self,
        actor_id: str,
        actor_input: Mapping[str, Any],
        *,
        memory_mb: int | None = None,
        timeout_s: int | None = None,
        max_items: int | None = None,
    ) -> dict[str, Any]:
        """POST /acts/{actor}/runs; the run object (`id`, `status`, `defaultDatasetId`)."""
        params = {
            key: value
            for key, value in (
                ("memory", memory_mb),
                ("timeout", timeout_s),
                ("maxItems", max_items),
            )
            if value is not None
        }
        body = await self._call(
            "POST",
            f"/acts/{actor_id}/runs",
            f"start actor {actor_id}",
            json=dict(actor_input),
            params=params,
        )
        return as_dict(as_dict(body).get("data"))

    async def get_run(self, run_id: str, *, wait_for_finish: int = 0) -> dict[str, Any]:
        params = {"waitForFinish": min(60, max(0, wait_for_finish))}
        body = await self._call("GET", f"/actor-runs/{run_id}", f"read run {run_id}", params=params)
        return as_dict(as_dict(body).get("data"))

    async def wait_for_run(self, run_id: str, *, deadline_s: float = 3600.0) -> dict[str, Any]:
        """Follow a run to a terminal status (Apify holds each poll up to 60 s server side,
        so this loop does not sleep). PlatformTimeoutError past `deadline_s`."""
        deadline = time.monotonic() + deadline_s
        while True:
            remaining = deadline - time.monotonic()
            run = await self.get_run(run_id, wait_for_finish=int(min(60, max(0, remaining))))
            if run.get("status") in TERMINAL_STATUSES:
                return run
            if time.monotonic() >= deadline:
                raise PlatformTimeoutError(
                    f"Apify run {run_id} is still {run.get('status')} after {deadline_s:.0f}s; "
                    "follow it later with get_run, or abort it",
                    platform=self.name,
                )

    async def abort_run(self, run_id: str) -> dict[str, Any]:
        body = await self._call("POST", f"/actor-runs/{run_id}/abort", f"abort run {run_id}")
        return as_dict(as_dict(body).get("data"))

    async def dataset_items(
        self, dataset_id: str, *, page_size: int = 500
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a dataset, page by page (`offset`/`limit`, `clean=true`)."""
        offset = 0
        while True:
            response = await self.http.request(
                "GET",
                f"/datasets/{dataset_id}/items",
                params={"offset": offset, "limit": page_size, "clean": "true", "format": "json"},
            )
            if response.status_code >= 400:
                raise error_from_response(
                    self.http, response, f"read dataset {dataset_id}", _message, _code
                )
            page = dicts(json_body(self.http, response, f"read dataset {dataset_id}"))
            for item in page:
                yield item
            offset += len(page)
            total = response.headers.get("x-apify-pagination-total")
            if len(page) < page_size or (total is not None and offset >= int(total)):
                return

    async def execute_workflow(
        self, definition: PlatformDefinition, context: ExecutionContext
    ) -> WorkflowResult:
        """Starts the Google Maps collection for `payload["location"]`; RUNNING with the
        run id. `apify_prospects.collect_prospects` turns the finished run into prospects."""
        ref = platform_ref(definition, self.name)
        location = str(context.payload.get("location") or ref.get("location") or "")
        config = as_dict(ref.get("collection_config")) or GMB_COLLECTION_CONFIG
        actor_input, unsupported = gmb_actor_input(
            location,
            config,
            max_places_per_search=int(ref.get("max_places_per_search", 50)),
            overrides=as_dict(ref.get("actor_input")),
        )
        calls = self.http.counter.calls
        run = await self.start_run(
            str(ref.get("actor_id") or GMB_ACTOR),
            actor_input,
            max_items=int(ref["max_items"]) if ref.get("max_items") else None,
        )
        return WorkflowResult(
            platform=self.name,
            status=ResultStatus.RUNNING,
            output={
                "run_id": run.get("id"),
                "dataset_id": run.get("defaultDatasetId"),
                "status": run.get("status"),
                "enrichment_not_available": unsupported,
            },
            external_execution_id=text(run.get("id")),
            api_calls=self.http.counter.calls - calls,
        )
