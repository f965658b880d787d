"""Tenant A's platforms, answered in process by the Apify and ClickUp fakes: enough for every
orchestration tool's own call (`tool_cases.CASES[...].own`) to succeed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from orchestration.platforms.apify import GMB_ACTOR
from orchestration.platforms.config_store import save_tool_config
from orchestration.platforms.resilience import ResilienceRegistry
from servers.mcp.orchestration import PlatformAccess
from shared.crypto import CredentialCipher
from shared.db.database import Database
from tests.fakes.apify import ApifyFake
from tests.fakes.clickup import ClickUpFake

__all__ = ["A_SECRETS", "AlphaPlatforms"]

A_SECRETS = {
    "apify": "alpha-apify-token-7731",
    "clickup": "pk_alpha_clickup_token_7731",
    "generic": "alpha-generic-webhook-7731",
}
LISTS = {
    "qualified_prospects": "L1",
    "active_customers": "L2",
    "at_risk_customers": "L3",
    "completed_deals": "L4",
}


def _place(n: int) -> dict[str, Any]:
    return {
        "title": f"Collected Dentist {n}",
        "placeId": f"place-{n}",
        "categoryName": "Dentist",
        "city": "Austin",
        "totalScore": 4.5,
        "reviewsCount": 10 + n,
        "reviews": [{"stars": 5, "text": "Great", "name": "A", "publishedAtDate": "2026-01-02"}],
    }


@dataclass
class AlphaPlatforms:
    apify: ApifyFake = field(default_factory=lambda: ApifyFake(token=A_SECRETS["apify"]))
    clickup: ClickUpFake = field(default_factory=lambda: ClickUpFake(token=A_SECRETS["clickup"]))
    requests: list[httpx.Request] = field(default_factory=list[httpx.Request])

    def __post_init__(self) -> None:
        self.apify.add_actor(GMB_ACTOR, [_place(1), _place(2)])
        for list_id in LISTS.values():
            self.clickup.add_list(list_id, list_id)

    def access(self) -> PlatformAccess:
        routes = {
            "apify.test": httpx.ASGITransport(app=self.apify.app()),
            "clickup.test": httpx.ASGITransport(app=self.clickup.app()),
        }
        seen = self.requests

        class Router(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                seen.append(request)
                return await routes[request.url.host].handle_async_request(request)

        return PlatformAccess(
            client_factory=lambda: httpx.AsyncClient(transport=Router()),
            registry=ResilienceRegistry(),
            collection_deadline_s=30,
        )

    @staticmethod
    async def configure(db: Database, cipher: CredentialCipher, tenant_id: uuid.UUID) -> None:
        await save_tool_config(
            db,
            cipher,
            tenant_id=tenant_id,
            tool_name="apify",
            api_endpoint="http://apify.test/v2",
            credentials={"api_token": A_SECRETS["apify"]},
        )
        await save_tool_config(
            db,
            cipher,
            tenant_id=tenant_id,
            tool_name="clickup",
            api_endpoint="http://clickup.test/api/v2",
            credentials={"api_token": A_SECRETS["clickup"]},
            settings={"lists": LISTS, "reminder_days": None},
        )
