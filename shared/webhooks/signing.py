"""Verifying webhook deliveries the way each sender can sign them.

- Senders we configure (n8n, Make, generic): `X-Switchboard-Timestamp: <unix seconds>` and
  `X-Switchboard-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<raw body>">` with the
  tool's webhook secret; the timestamp must be within the replay window.
- ClickUp: its own `X-Signature`, hex HMAC-SHA256 of the raw body with the webhook secret.
- Senders that cannot compute an HMAC (e.g. Apify's headers template): a per-tool secret
  in `X-Switchboard-Token`, compared in constant time.

Every comparison is constant-time; every refusal says which check failed (not the secret).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "DEFAULT_REPLAY_WINDOW_SECONDS",
    "SignatureScheme",
    "WebhookRejected",
    "sign_switchboard",
    "verify_delivery",
]

DEFAULT_REPLAY_WINDOW_SECONDS = 300
TIMESTAMP_HEADER = "x-switchboard-timestamp"
SIGNATURE_HEADER = "x-switchboard-signature"
TOKEN_HEADER = "x-switchboard-token"
CLICKUP_HEADER = "x-signature"


class SignatureScheme(StrEnum):
    SWITCHBOARD_HMAC = "switchboard_hmac"
    CLICKUP = "clickup"
    SECRET_HEADER = "secret_header"


@dataclass(frozen=True)
class WebhookRejected(Exception):
    """Why a delivery was refused; `status` is the HTTP answer (401, 408...)."""

    status: int
    reason: str

    def __str__(self) -> str:
        return self.reason


def _hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign_switchboard(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers a sender adds (used by our adapters, tests and docs)."""
    ts = int(time.time()) if timestamp is None else timestamp
    signature = _hmac_hex(secret, f"{ts}.".encode() + body)
    return {"X-Switchboard-Timestamp": str(ts), "X-Switchboard-Signature": f"v1={signature}"}


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def verify_delivery(
    scheme: SignatureScheme,
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    replay_window: int = DEFAULT_REPLAY_WINDOW_SECONDS,
) -> None:
    """Return quietly for an authentic delivery; raise WebhookRejected otherwise."""
    found = _lower(headers)
    if scheme is SignatureScheme.CLICKUP:
        given = found.get(CLICKUP_HEADER)
        if not given:
            raise WebhookRejected(401, "missing X-Signature header")
        if not hmac.compare_digest(given.strip().lower(), _hmac_hex(secret, body)):
            raise WebhookRejected(401, "X-Signature does not match the body")
        return
    if scheme is SignatureScheme.SECRET_HEADER:
        given = found.get(TOKEN_HEADER)
        if not given:
            raise WebhookRejected(401, "missing X-Switchboard-Token header")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            raise WebhookRejected(401, "X-Switchboard-Token is wrong")
        return
    raw_ts, raw_sig = found.get(TIMESTAMP_HEADER), found.get(SIGNATURE_HEADER)
    if not raw_ts or not raw_sig:
        raise WebhookRejected(
            401, "missing X-Switchboard-Timestamp or X-Switchboard-Signature header"
        )
    try:
        ts = int(raw_ts)
    except ValueError:
        raise WebhookRejected(401, "X-Switchboard-Timestamp is not unix seconds") from None
    current = time.time() if now is None else now
    if abs(current - ts) > replay_window:
        raise WebhookRejected(
            401, f"timestamp is outside the {replay_window}s replay window (stale or replayed)"
        )
    expected = "v1=" + _hmac_hex(secret, f"{ts}.".encode() + body)
    candidates = [part.strip() for part in raw_sig.split(",")]  # several during key rotation
    if not any(hmac.compare_digest(c, expected) for c in candidates):
        raise WebhookRejected(401, "X-Switchboard-Signature does not match the body")
