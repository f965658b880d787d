"""The HTTP surface of `switchboard serve` under generated requests: any method, path, headers
and body (malformed JSON, odd content types, unicode, 300 kB) against webhooks, the dashboard
API, the MCP endpoints and health. No answer is a 5xx, the server keeps answering, and a
request that is not a correctly signed delivery queues nothing.

The app runs with its lifespan on a real uvicorn server on 127.0.0.1 (the MCP endpoints need
their session managers running), the embedded worker off so the queue only grows by ingress.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from orchestration.platforms.config_store import save_tool_config
from servers.http.app import HttpOptions, build_app
from shared.auth.api_keys import create_api_key
from shared.auth.principal import Role
from shared.config import Settings
from shared.crypto import cipher_from_settings, generate_key
from shared.db.database import Database
from shared.tenants import create_tenant
from shared.webhooks.signing import sign_switchboard
from tests.fakes.server import serve_in_thread
from tests.unit.fuzz.profile import fuzz_settings
from tests.unit.fuzz.strategies import HOSTILE_STRINGS, json_values

SECRET = "whsec-fuzz"


@dataclass
class Served:
    http: httpx.Client
    store: Path
    tenant: str
    operator_key: str
    viewer_key: str

    def queued(self) -> int:
        with sqlite3.connect(self.store) as conn:
            return int(conn.execute("SELECT count(*) FROM event_queue").fetchone()[0])


async def _prepare(url: str, settings: Settings) -> tuple[str, str, str]:
    db = Database.from_url(url)
    try:
        tenant = await create_tenant(db, "fuzz")
        cipher = cipher_from_settings(settings.secret_key)
        for tool in ("generic", "n8n", "clickup", "apify"):
            await save_tool_config(
                db, cipher, tenant_id=tenant.id, tool_name=tool,
                credentials={"webhook_secret": SECRET},
            )  # fmt: skip
        operator = await create_api_key(db, tenant.id, Role.OPERATOR)
        viewer = await create_api_key(db, tenant.id, Role.VIEWER)
        return str(tenant.id), operator.token, viewer.token
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def served(fuzz_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    store = tmp_path_factory.mktemp("fuzz-http") / "store.sqlite3"
    shutil.copyfile(fuzz_template, store)
    url = f"sqlite:///{store}"
    settings = Settings(database_url=url, secret_key=SecretStr(generate_key()))
    tenant, operator, viewer = asyncio.run(_prepare(url, settings))
    app = build_app(settings, HttpOptions(embedded_worker=False))
    with serve_in_thread(app, lifespan="on") as base, httpx.Client(
        base_url=base, timeout=60
    ) as http:  # fmt: skip
        yield Served(http, store, tenant, operator, viewer)


SEGMENTS = st.sampled_from(
    [str(uuid.uuid4()), "", "..", "%00", "%2e%2e%2f", quote("\u202e"), "x" * 3000]
    + [quote(s, safe="", errors="surrogatepass") for s in HOSTILE_STRINGS[:20]]
)
PATHS = st.one_of(
    st.sampled_from(
        [
            "/webhooks/generic", "/webhooks/clickup", "/webhooks/apify", "/webhooks/n8n",
            "/webhooks/make", "/webhooks/unknown", "/webhooks/", "/api/dashboard",
            "/api/dashboard/", "/mcp/crm/", "/mcp/analysis/", "/mcp/orchestration/",
            "/mcp/crm", "/mcp/nope/", "/healthz", "/readyz", "/metrics", "/dashboard", "/",
            "/.well-known/oauth-protected-resource/mcp/crm",
        ]
    ),
    SEGMENTS.map(lambda s: f"/webhooks/{s}"),
    SEGMENTS.map(lambda s: f"/api/dashboard/retry/{s}"),
    SEGMENTS.map(lambda s: f"/api/dashboard/replay/{s}"),
)  # fmt: skip
METHODS = st.sampled_from(["GET", "POST", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
CONTENT_TYPES = st.sampled_from(
    [
        "application/json", "application/json; charset=utf-16", "text/plain",
        "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "", "*/*",
        "application/json; charset=nope",
    ]
)  # fmt: skip
# Header values HTTP/1.1 can carry (no surrounding spaces), so the server sees every one.
ASCII = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60).map(str.strip)


def _headers(served: Served) -> st.SearchStrategy[dict[str, str]]:
    auth = st.sampled_from(
        [
            "", "Bearer", "Bearer garbage", "Basic YTpi", f"Bearer {served.operator_key}",
            f"Bearer {served.viewer_key}", "Bearer " + "x" * 5000, f"bearer  {served.viewer_key}",
        ]
    )  # fmt: skip
    return st.fixed_dictionaries(
        {"content-type": CONTENT_TYPES, "authorization": auth},
        optional={
            "accept": st.sampled_from(["application/json, text/event-stream", "*/*", "x/y"]),
            "x-switchboard-signature": ASCII | st.just("v1=" + "0" * 64),
            "x-switchboard-timestamp": ASCII | st.sampled_from(["0", "-1", "9" * 30, "1e9"]),
            "x-signature": ASCII,
            "x-switchboard-delivery": ASCII,
            "mcp-session-id": ASCII,
            "mcp-protocol-version": st.sampled_from(["2025-11-25", "1999-01-01", "x"]),
            "origin": st.sampled_from(["http://evil.example", "null", "http://127.0.0.1"]),
        },
    ).map(lambda h: {k: v for k, v in h.items() if v})


JSON_RPC = st.fixed_dictionaries(
    {"jsonrpc": st.sampled_from(["2.0", "1.0", 2]), "method": ASCII | st.sampled_from(
        ["initialize", "tools/list", "tools/call", "notifications/initialized"])},
    optional={"id": json_values(2), "params": json_values(6)},
)  # fmt: skip


def _utf16(text: str) -> bytes:
    return text.encode("utf-16", "surrogatepass")  # a lone surrogate goes through as bytes


BODIES = st.one_of(
    st.binary(max_size=300),
    json_values(8).map(lambda v: json.dumps(v).encode()),
    JSON_RPC.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"{", b"[]", b"null", b'{"eventType": "lead_qualified"', b"\xff\xfe{"]),
    st.just(0).map(lambda _: b'{"a": "' + b"x" * 300_000 + b'"}'),  # past the 256 kB limit
    json_values(4).map(lambda v: _utf16(json.dumps(v, ensure_ascii=False))),
)


@fuzz_settings(max_examples=60)
@given(data=st.data())
def test_no_generated_request_gets_a_5xx_or_queues_an_event(
    served: Served, data: st.DataObject
) -> None:
    before = served.queued()
    method = data.draw(METHODS, label="method")
    path = data.draw(PATHS, label="path")
    query = data.draw(
        st.sampled_from(["", f"?tenant={served.tenant}", "?tenant=nope", "?tenant=%00&tenant=x"]),
        label="query",
    )
    headers = data.draw(_headers(served), label="headers")
    body = data.draw(BODIES, label="body") if method not in ("GET", "OPTIONS") else b""
    response = served.http.request(method, path + query, headers=headers, content=body)
    assert response.status_code < 500, (response.status_code, response.text[:500])
    assert served.queued() == before, "a request that was not a signed delivery queued an event"


def _signed_post(served: Served, document: Any) -> httpx.Response:
    body = json.dumps(document).encode()
    return served.http.post(
        f"/webhooks/generic?tenant={served.tenant}",
        content=body,
        headers={"content-type": "application/json", **sign_switchboard(SECRET, body)},
    )


def _mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from([good, good, good, bad]).flatmap(
        lambda chosen: chosen
    )  # three in four valid: deliveries get queued too


EVENT_LIKE = st.fixed_dictionaries(
    {"eventType": _mostly(st.sampled_from(["lead_qualified", "deal_closed"]), ASCII)},
    optional={
        "eventId": _mostly(st.uuids().map(str), json_values(2)),
        "customerId": _mostly(ASCII, json_values(2)),
        "eventData": _mostly(st.dictionaries(ASCII, json_values(6), max_size=4), json_values(3)),
        "priority": _mostly(st.sampled_from(["low", "critical"]), json_values(2)),
        "timestamp": _mostly(
            st.sampled_from(["2026-03-01T00:00:00Z"]), st.sampled_from(["yesterday", "2026-13-01"])
        ),
        "tenantId": st.sampled_from([str(uuid.uuid4())]) | json_values(2),
        "workflow_triggers": _mostly(st.lists(ASCII, max_size=2), json_values(3)),
    },
)


@fuzz_settings(max_examples=80)
@given(EVENT_LIKE | json_values(6))
def test_signed_deliveries_are_queued_once_or_refused_with_a_4xx(
    served: Served, document: Any
) -> None:
    """Correctly signed bodies reach event validation: each is queued (202, one row) or
    refused (4xx, no row). Text the stores cannot hold (NUL, lone surrogates) is left to
    test_event_properties.py's pinned cases."""
    before = served.queued()
    response = _signed_post(served, document)
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code == 202:
        assert served.queued() == before + (0 if response.json()["duplicate"] else 1)
    else:
        assert 400 <= response.status_code < 500 and response.json()["detail"]
        assert served.queued() == before


def test_the_server_still_answers_after_the_fuzzing(served: Served) -> None:
    assert served.http.get("/healthz").json() == {"status": "ok"}
    event = {"eventType": "deal_closed", "eventId": f"after-{uuid.uuid4()}"}
    before = served.queued()
    accepted = _signed_post(served, event)
    assert accepted.status_code == 202, accepted.text
    assert served.queued() == before + 1


# A timestamp past year 9999 in UTC ("9999-12-31T23:59:59-01:00") is tested in
# test_event_properties.py (on the model, without a server thread).
@pytest.mark.parametrize(
    "document",
    [
        {"eventType": "deal_closed", "eventData": {"note": "\ud800"}},
        {"eventType": "deal_closed", "eventData": {"note": "nul\x00"}},
        {"eventType": "deal_closed", "eventId": "nul\x00id"},
    ],
)
def test_signed_deliveries_the_stores_cannot_hold_are_a_4xx(
    served: Served, document: dict[str, Any]
) -> None:
    document = {**document, "eventId": document.get("eventId", str(uuid.uuid4()))}
    before = served.queued()
    response = _signed_post(served, document)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert served.queued() == before
