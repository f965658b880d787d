"""Webhook signatures beyond tests/unit/servers/http/test_webhooks.py: every secret
comparison is constant-time (hmac.compare_digest, never ==), and for every sender each
kind of forgery (wrong secret, missing header, stale or future timestamp, replayed
delivery) is refused with its status and queues nothing."""

from __future__ import annotations

import ast
import hashlib
import hmac
import inspect
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

import shared.webhooks.signing as signing
from orchestration.platforms.config_store import save_tool_config
from servers.http.app import HttpOptions, build_app
from shared.config import Settings
from shared.crypto import cipher_from_settings, generate_key
from shared.db.database import Database
from shared.db.schema import event_queue
from shared.tenants import Tenant, create_tenant
from shared.webhooks.signing import SignatureScheme, WebhookRejected, sign_switchboard

SECRETS = {"n8n": "wh-n8n-s3cret", "make": "wh-make-s3cret", "generic": "wh-gen-s3cret"}
CLICKUP_SECRET = "wh-clickup-s3cret"
APIFY_SECRET = "wh-apify-s3cret"


def test_the_verifier_compares_only_with_compare_digest() -> None:
    """No `==` / `!=` anywhere in the verifier: an early-exit comparison leaks, by timing,
    how much of a forged signature was right."""
    tree = ast.parse(inspect.getsource(signing.verify_delivery))
    equalities = [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops)
    ]
    assert equalities == []


@pytest.mark.parametrize(
    ("scheme", "headers"),
    [
        (SignatureScheme.SWITCHBOARD_HMAC, lambda body: sign_switchboard("s", body)),
        (
            SignatureScheme.CLICKUP,
            lambda body: {"X-Signature": hmac.new(b"s", body, hashlib.sha256).hexdigest()},
        ),
        (SignatureScheme.SECRET_HEADER, lambda body: {"X-Switchboard-Token": "s"}),
    ],
)
def test_every_scheme_decides_through_compare_digest(
    monkeypatch: pytest.MonkeyPatch,
    scheme: SignatureScheme,
    headers: Callable[[bytes], dict[str, str]],
) -> None:
    calls: list[tuple[object, object]] = []
    real = hmac.compare_digest

    def spy(a: object, b: object) -> bool:
        calls.append((a, b))
        return real(a, b)  # type: ignore[arg-type]

    monkeypatch.setattr(signing.hmac, "compare_digest", spy)
    body = b'{"eventType": "lead_qualified"}'
    signing.verify_delivery(scheme, "s", headers(body), body)
    assert calls, "an authentic delivery was accepted without a constant-time comparison"
    calls.clear()
    with pytest.raises(WebhookRejected):
        signing.verify_delivery(scheme, "wrong", headers(body), body)
    assert calls, "a forged delivery was refused without a constant-time comparison"


Ingress = tuple[httpx.AsyncClient, Database, Tenant]


@pytest.fixture
async def configured(sqlite_db: Database, sqlite_url: str) -> tuple[Settings, Tenant]:
    settings = Settings(database_url=sqlite_url, secret_key=SecretStr(generate_key()))
    cipher = cipher_from_settings(settings.secret_key)
    tenant = await create_tenant(sqlite_db, "acme")
    configured = {**SECRETS, "clickup": CLICKUP_SECRET, "apify": APIFY_SECRET}
    for tool, secret in configured.items():
        await save_tool_config(
            sqlite_db,
            cipher,
            tenant_id=tenant.id,
            tool_name=tool,
            credentials={"webhook_secret": secret},
        )
    return settings, tenant


@asynccontextmanager
async def ingress_of(db: Database, configured: tuple[Settings, Tenant]) -> AsyncIterator[Ingress]:
    """The app in process, its lifespan entered in the test's own task."""
    settings, tenant = configured
    app = build_app(settings, HttpOptions(embedded_worker=False))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http,
    ):
        yield http, db, tenant


async def _count(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(event_queue)) or 0)


def _event(event_id: str = "delivery-1") -> bytes:
    return json.dumps(
        {
            "eventId": event_id,
            "eventType": "lead_qualified",
            "eventData": {"qualification_score": 90},
        }
    ).encode()


def _clickup_body() -> bytes:
    return json.dumps(
        {
            "webhook_id": "wh-1",
            "event": "taskStatusUpdated",
            "task_id": "task-9",
            "history_items": [
                {
                    "id": "h1",
                    "field": "status",
                    "before": {"status": "open"},
                    "after": {"status": "won"},
                    "date": "1764150000000",
                    "user": {"id": 7},
                }
            ],
        }
    ).encode()


def _forgeries() -> list[tuple[str, str, bytes, dict[str, str], str]]:
    """(name, source, body, headers, reason) for every sender."""
    body = _event()
    now = int(time.time())
    cases: list[tuple[str, str, bytes, dict[str, str], str]] = []
    for source, secret in SECRETS.items():
        cases += [
            (
                f"{source} wrong secret",
                source,
                body,
                sign_switchboard("not-" + secret, body),
                "does not match",
            ),
            (f"{source} no headers", source, body, {}, "missing"),
            (
                f"{source} signature without timestamp",
                source,
                body,
                {
                    "X-Switchboard-Signature": sign_switchboard(secret, body)[
                        "X-Switchboard-Signature"
                    ]
                },
                "missing",
            ),
            (
                f"{source} stale",
                source,
                body,
                sign_switchboard(secret, body, now - 600),
                "replay window",
            ),
            (
                f"{source} future",
                source,
                body,
                sign_switchboard(secret, body, now + 600),
                "replay window",
            ),
            (
                f"{source} timestamp swapped after signing",
                source,
                body,
                {**sign_switchboard(secret, body, now - 10), "X-Switchboard-Timestamp": str(now)},
                "does not match",
            ),
            (
                f"{source} not unix seconds",
                source,
                body,
                {**sign_switchboard(secret, body), "X-Switchboard-Timestamp": "yesterday"},
                "unix seconds",
            ),
            (
                f"{source} another sender's secret",
                source,
                body,
                sign_switchboard(SECRETS["generic" if source != "generic" else "n8n"], body),
                "does not match",
            ),
        ]
    clickup = _clickup_body()
    cases += [
        (
            "clickup wrong secret",
            "clickup",
            clickup,
            {"X-Signature": hmac.new(b"nope", clickup, hashlib.sha256).hexdigest()},
            "does not match",
        ),
        ("clickup no header", "clickup", clickup, {}, "missing X-Signature"),
        (
            "apify wrong token",
            "apify",
            body,
            {"X-Switchboard-Token": APIFY_SECRET + "x"},
            "is wrong",
        ),
        ("apify no header", "apify", body, {}, "missing X-Switchboard-Token"),
        (
            "apify secret in the HMAC headers",
            "apify",
            body,
            sign_switchboard(APIFY_SECRET, body),
            "missing",
        ),
    ]
    return cases


async def test_every_forgery_is_refused_with_401_and_queues_nothing(
    sqlite_db: Database, configured: tuple[Settings, Tenant]
) -> None:
    async with ingress_of(sqlite_db, configured) as (http, db, tenant):
        failures = await _refusals(http, tenant)
    assert failures == [], "\n".join(failures)
    assert await _count(db) == 0


async def _refusals(http: httpx.AsyncClient, tenant: Tenant) -> list[str]:
    failures: list[str] = []
    for name, source, body, headers, reason in _forgeries():
        response = await http.post(
            f"/webhooks/{source}?tenant={tenant.id}",
            content=body,
            headers={"content-type": "application/json", **headers},
        )
        detail = response.json().get("detail", "")
        if response.status_code != 401 or reason not in detail:
            failures.append(f"{name}: {response.status_code} {detail!r}")
        for secret in (*SECRETS.values(), CLICKUP_SECRET, APIFY_SECRET):
            if secret in response.text:
                failures.append(f"{name}: the answer shows a secret")
    return failures


async def test_a_replayed_delivery_id_queues_nothing_new(
    sqlite_db: Database, configured: tuple[Settings, Tenant]
) -> None:
    """The same delivery again, freshly signed (a sender's retry, or an attacker who
    captured it and holds the secret) is answered as a duplicate and queues nothing."""
    url = f"/webhooks/n8n?tenant={configured[1].id}"
    body = _event("delivery-42")
    async with ingress_of(sqlite_db, configured) as (http, db, _tenant):
        answers = []
        for offset in (0, 5, 60):
            headers = sign_switchboard(SECRETS["n8n"], body, int(time.time()) - offset)
            answers.append(await http.post(url, content=body, headers=headers))
        # A sender that cannot sign (Apify's secret header) names its deliveries with the
        # X-Switchboard-Delivery header: a retry with a changed body is still one event.
        by_header = []
        for amount in (1, 2):
            plain = json.dumps({"eventType": "deal_closed", "eventData": {"amount": amount}})
            headers = {
                "X-Switchboard-Token": APIFY_SECRET,
                "X-Switchboard-Delivery": "header-delivery-7",
            }
            by_header.append(
                await http.post(
                    f"/webhooks/apify?tenant={configured[1].id}", content=plain, headers=headers
                )
            )
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert [a.json()["duplicate"] for a in answers] == [False, True, True]
    assert [a.json()["duplicate"] for a in by_header] == [False, True]
    assert await _count(db) == 2


async def test_a_captured_delivery_replayed_under_a_new_delivery_header_is_refused(
    sqlite_db: Database, configured: tuple[Settings, Tenant]
) -> None:
    body = json.dumps(
        {"eventType": "lead_qualified", "eventData": {"qualification_score": 90}}
    ).encode()
    signed = sign_switchboard(SECRETS["n8n"], body)
    async with ingress_of(sqlite_db, configured) as (http, db, tenant):
        for delivery in ("d-1", "d-2-forged"):
            await http.post(
                f"/webhooks/n8n?tenant={tenant.id}",
                content=body,
                headers={**signed, "X-Switchboard-Delivery": delivery},
            )
        queued = await _count(db)
    # Asserted outside: the app's lifespan skips closing its store when left by an exception.
    assert queued == 1
