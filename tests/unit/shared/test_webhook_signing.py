from __future__ import annotations

import hashlib
import hmac

import pytest

from shared.webhooks.signing import (
    SignatureScheme,
    WebhookRejected,
    sign_switchboard,
    verify_delivery,
)

SECRET = "whsec-test"
BODY = b'{"event":"taskStatusUpdated","task_id":"abc"}'


def test_our_signature_round_trips() -> None:
    headers = sign_switchboard(SECRET, BODY, timestamp=1_000)
    verify_delivery(SignatureScheme.SWITCHBOARD_HMAC, SECRET, headers, BODY, now=1_010)


@pytest.mark.parametrize(
    ("headers_change", "body", "now", "reason"),
    [
        ({}, BODY + b" ", 1_000, "does not match"),
        ({"X-Switchboard-Signature": "v1=" + "0" * 64}, BODY, 1_000, "does not match"),
        ({}, BODY, 1_000 + 301, "replay window"),
        ({}, BODY, 1_000 - 301, "replay window"),
        ({"X-Switchboard-Timestamp": "yesterday"}, BODY, 1_000, "unix seconds"),
    ],
)
def test_tampered_stale_or_malformed_deliveries_are_refused(
    headers_change: dict[str, str], body: bytes, now: int, reason: str
) -> None:
    headers = sign_switchboard(SECRET, BODY, timestamp=1_000) | headers_change
    with pytest.raises(WebhookRejected, match=reason) as caught:
        verify_delivery(SignatureScheme.SWITCHBOARD_HMAC, SECRET, headers, body, now=now)
    assert caught.value.status == 401
    assert SECRET not in str(caught.value)


def test_missing_headers_and_wrong_secret_are_refused() -> None:
    with pytest.raises(WebhookRejected, match="missing"):
        verify_delivery(SignatureScheme.SWITCHBOARD_HMAC, SECRET, {}, BODY)
    headers = sign_switchboard("other-secret", BODY)
    with pytest.raises(WebhookRejected, match="does not match"):
        verify_delivery(SignatureScheme.SWITCHBOARD_HMAC, SECRET, headers, BODY)


def test_clickup_signature_is_hmac_of_the_raw_body() -> None:
    signature = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    verify_delivery(SignatureScheme.CLICKUP, SECRET, {"X-Signature": signature}, BODY)
    with pytest.raises(WebhookRejected, match="does not match"):
        verify_delivery(SignatureScheme.CLICKUP, SECRET, {"X-Signature": signature}, BODY + b"x")
    with pytest.raises(WebhookRejected, match="missing X-Signature"):
        verify_delivery(SignatureScheme.CLICKUP, SECRET, {}, BODY)


def test_secret_header_for_senders_that_cannot_sign() -> None:
    verify_delivery(SignatureScheme.SECRET_HEADER, SECRET, {"x-switchboard-token": SECRET}, BODY)
    with pytest.raises(WebhookRejected, match="wrong"):
        verify_delivery(SignatureScheme.SECRET_HEADER, SECRET, {"X-Switchboard-Token": "no"}, BODY)
