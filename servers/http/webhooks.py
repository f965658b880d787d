"""`POST /webhooks/{source}?tenant=T`: signed deliveries from n8n, Make, ClickUp, Apify and
generic senders become queued events (202), everything else a specific 4xx.

Order of checks, cheapest and safest first: size limit, known source, known tenant, the
tenant's webhook secret for that source, signature (and replay window), JSON shape, event
validation, then publish, which deduplicates on the delivery id so a redelivery is
answered 202 with `duplicate: true` and queues nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from orchestration.events.models import CustomerEvent, EventSource
from orchestration.platforms.clickup_webhooks import crm_id_for_delivery, parse_delivery
from orchestration.platforms.config_store import load_tool_config
from orchestration.platforms.mappings import SqlMappingStore
from servers.http.ingest import GroupPublisher
from shared.config import Settings
from shared.crypto import cipher_from_settings
from shared.db.database import Database
from shared.errors import NotFoundError, SwitchboardError, ValidationFailedError
from shared.tenants import Tenant, resolve_tenant
from shared.webhooks.signing import SignatureScheme, WebhookRejected, verify_delivery

__all__ = ["MAX_WEBHOOK_BYTES", "SOURCES", "webhook_endpoint"]

log = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 256 * 1024
DELIVERY_HEADER = "x-switchboard-delivery"

# How each sender can sign: ClickUp signs with its own secret; Apify's headers template can
# only carry a fixed secret; the senders we configure compute our HMAC over timestamp+body.
SOURCES: dict[str, SignatureScheme] = {
    "n8n": SignatureScheme.SWITCHBOARD_HMAC,
    "make": SignatureScheme.SWITCHBOARD_HMAC,
    "generic": SignatureScheme.SWITCHBOARD_HMAC,
    "clickup": SignatureScheme.CLICKUP,
    "apify": SignatureScheme.SECRET_HEADER,
}
_EVENT_SOURCE = {"n8n": EventSource.N8N, "make": EventSource.MAKE, "apify": EventSource.APIFY}


def _problem(status: int, error: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


async def _read_limited(request: Request) -> bytes | None:
    """The body, or None when it exceeds MAX_WEBHOOK_BYTES (checked while streaming)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_WEBHOOK_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


# Tenants and secrets are looked up once per few seconds, not per delivery; a rotated secret
# or a removed sender takes effect within this time.
SECRET_CACHE_SECONDS = 5.0


@dataclass
class _SenderCache:
    entries: dict[tuple[str, str], tuple[float, Tenant, str, SignatureScheme]] = field(
        default_factory=dict[tuple[str, str], tuple[float, Tenant, str, SignatureScheme]]
    )

    async def lookup(
        self, db: Database, settings: Settings, tenant_ref: str, source: str
    ) -> tuple[Tenant, str, SignatureScheme]:
        """Raises NotFoundError / ValueError for an unknown tenant or unconfigured sender."""
        key = (tenant_ref, source)
        found = self.entries.get(key)
        now = time.monotonic()
        if found is not None and now - found[0] < SECRET_CACHE_SECONDS:
            return found[1], found[2], found[3]
        uuid.UUID(tenant_ref)
        tenant = await resolve_tenant(db, tenant_ref)
        secret, scheme = await _webhook_secret(db, settings, tenant, source)
        self.entries[key] = (now, tenant, secret, scheme)
        return tenant, secret, scheme


async def _webhook_secret(
    db: Database, settings: Settings, tenant: Tenant, source: str
) -> tuple[str, SignatureScheme]:
    config = await load_tool_config(
        db, cipher_from_settings(settings.secret_key), tenant.id, source
    )
    secret = config.credentials.get("webhook_secret")
    if not isinstance(secret, str) or not secret:
        raise NotFoundError(f"no webhook secret configured for {source}")
    scheme = SOURCES[source]
    if config.settings.get("webhook_scheme") == SignatureScheme.SECRET_HEADER.value:
        scheme = SignatureScheme.SECRET_HEADER  # a sender that cannot compute an HMAC
    return secret, scheme


def _delivery_id(
    scheme: SignatureScheme, request: Request, body: bytes, payload: dict[str, Any]
) -> str:
    """Which delivery this is, for deduplication. The HMAC covers the timestamp and the body,
    not the X-Switchboard-Delivery header: trusting that header on a signed delivery would let
    a captured delivery, replayed inside the window under a new header, be queued again. So a
    signed delivery is named by its body alone (its eventId, else a hash of the body); the
    header names deliveries only for senders that cannot sign (a secret header)."""
    header = request.headers.get(DELIVERY_HEADER)
    given = payload.get("eventId")
    if scheme is SignatureScheme.SECRET_HEADER:
        given = header or given
    if isinstance(given, str) and given.strip():
        return given.strip()[:200]
    # No id from the sender: an identical redelivery still maps to the same event.
    return "body:" + hashlib.sha256(body).hexdigest()


def _event_from(
    source: str,
    scheme: SignatureScheme,
    tenant: Tenant,
    request: Request,
    body: bytes,
    crm_id: str | None = None,
) -> CustomerEvent:
    """Raises ValidationFailedError (-> 400/422) with what is wrong."""
    if source == "clickup":
        fields = parse_delivery(body, crm_id=crm_id)
        return CustomerEvent.model_validate({**fields, "tenantId": tenant.id})
    try:
        decoded: Any = json.loads(body)
    except ValueError:
        raise ValidationFailedError("the body is not JSON") from None
    if not isinstance(decoded, dict):
        raise ValidationFailedError("the body must be a JSON object")
    payload = cast("dict[str, Any]", decoded)
    claimed = payload.get("tenantId")
    if claimed is not None and str(claimed) != str(tenant.id):
        raise ValidationFailedError("tenantId in the body is not the tenant of this webhook URL")
    fields: dict[str, Any] = {**payload, "tenantId": tenant.id}
    fields["eventId"] = _delivery_id(scheme, request, body, payload)
    if source in _EVENT_SOURCE:
        fields["source"] = _EVENT_SOURCE[source]
    try:
        return CustomerEvent.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}"
            for error in exc.errors()[:5]
        )
        raise ValidationFailedError(problems) from None


def webhook_endpoint(
    db: Database, settings: Settings, publisher: GroupPublisher
) -> Callable[[Request], Awaitable[JSONResponse]]:
    senders = _SenderCache()

    async def receive(request: Request) -> JSONResponse:
        source = request.path_params["source"]
        body = await _read_limited(request)
        if body is None:
            return _problem(
                413, "too_large", f"deliveries are limited to {MAX_WEBHOOK_BYTES} bytes"
            )
        if source not in SOURCES:
            return _problem(404, "unknown_source", f"use one of {', '.join(sorted(SOURCES))}")
        tenant_ref = request.query_params.get("tenant")
        if not tenant_ref:
            return _problem(400, "missing_tenant", "add ?tenant=<tenant id> to the webhook URL")
        try:
            tenant, secret, scheme = await senders.lookup(db, settings, tenant_ref, source)
        except (ValueError, NotFoundError):
            # One answer for unknown tenant and unconfigured source: no probing for tenants.
            return _problem(
                401, "unauthorized", f"no {source} webhook is configured for that tenant"
            )
        try:
            verify_delivery(scheme, secret, request.headers, body)
        except WebhookRejected as exc:
            return _problem(exc.status, "bad_signature", exc.reason)
        try:
            # A ClickUp task names its CRM record through the sync's mapping table.
            crm_id = (
                await crm_id_for_delivery(SqlMappingStore(db), tenant.id, body)
                if source == "clickup"
                else None
            )
            event = _event_from(source, scheme, tenant, request, body, crm_id)
            result = await publisher.publish(event)
        except ValidationFailedError as exc:
            return _problem(422, "invalid_event", str(exc))
        except SwitchboardError as exc:
            log.warning("webhook from %s for tenant %s not queued: %s", source, tenant.id, exc)
            return _problem(503, "unavailable", "the event could not be queued; retry later")
        return JSONResponse(
            {
                "accepted": True,
                "duplicate": result.duplicate,
                "queue_id": str(result.queue_id),
                "event_id": event.event_id,
            },
            status_code=202,
        )

    return receive
