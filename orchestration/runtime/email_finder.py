"""The step engine's `EmailFinder`: a configured email-discovery provider, or an honest no.

`HttpEmailFinder` posts the step's query (`{"domain": ..., "full_name": ...}`) as JSON to
the provider URL with `Authorization: Bearer <key>` and reads `email` (and, when present,
`email_class` / `status`) from the answer; Anymail Finder's person search
(`https://api.anymailfinder.com/v5.0/search/person.json`) has that shape. Without a
provider every `find_email` step fails, saying which variables to set.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from orchestration.workflows.errors import StepFailedError, TransientStepError

__all__ = ["HttpEmailFinder", "UnconfiguredEmailFinder"]

NOT_CONFIGURED = (
    "no email-discovery provider is configured in this worker; set "
    "SWITCHBOARD_WORKER_EMAIL_FINDER_URL and SWITCHBOARD_WORKER_EMAIL_FINDER_KEY "
    "(e.g. Anymail Finder's person search) and restart the worker"
)


class UnconfiguredEmailFinder:
    """Fails every lookup with what to configure, instead of pretending to find nothing."""

    async def find_email(self, query: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        raise StepFailedError(NOT_CONFIGURED)


class HttpEmailFinder:
    """Implements orchestration.workflows.services.EmailFinder over one provider URL."""

    def __init__(self, client: httpx.AsyncClient, url: str, api_key: SecretStr) -> None:
        self.client = client
        self.url = url
        self._api_key = api_key

    def __repr__(self) -> str:
        return f"HttpEmailFinder(url={self.url!r})"

    async def find_email(self, query: dict[str, Any], *, idempotency_key: str) -> dict[str, Any]:
        if not query.get("domain"):
            raise StepFailedError("find_email needs a domain (e.g. the account's website)")
        host = httpx.URL(self.url).host
        try:
            response = await self.client.post(
                self.url,
                json={k: v for k, v in query.items() if v is not None},
                headers={
                    "Authorization": f"Bearer {self._api_key.get_secret_value()}",
                    "Idempotency-Key": idempotency_key,
                },
            )
        except httpx.TransportError as exc:
            raise TransientStepError(
                f"email provider at {host} could not be reached ({type(exc).__name__})"
            ) from None
        if response.status_code == 404:  # providers answer "no email found" with a 404
            return {"email": None, "found": False, "domain": query["domain"]}
        if response.status_code in (401, 403):
            raise StepFailedError(
                f"email provider at {host} refused the key (HTTP {response.status_code}); "
                "check SWITCHBOARD_WORKER_EMAIL_FINDER_KEY"
            )
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientStepError(f"email provider at {host} answered {response.status_code}")
        if response.status_code >= 400:
            raise StepFailedError(
                f"email provider at {host} rejected the lookup (HTTP {response.status_code})"
            )
        try:
            body: Any = response.json()
        except ValueError:
            raise TransientStepError(f"email provider at {host} answered non-JSON") from None
        found: dict[str, Any] = body if isinstance(body, dict) else {}  # pyright: ignore[reportUnknownVariableType]
        email = found.get("email")
        return {
            "email": email if isinstance(email, str) and email else None,
            "found": bool(email),
            "status": found.get("email_class") or found.get("status"),
            "domain": query["domain"],
        }
