"""Opaque keyset cursors for `search_accounts`, bound to the search that made them.

A cursor is URL-safe base64 of JSON: the last row's sort value and id, plus a fingerprint
of the search (filters, sort, direction, tenant), all signed with HMAC-SHA256. Decoding
checks the signature and that the fingerprint matches the search it is used with, so a
cursor that was edited, truncated, or taken from a different search is refused with a
ValidationFailedError instead of silently returning a wrong page. A cursor carries no
authority: every page is still filtered by the repository's tenant.

Every data source uses these helpers, so a cursor looks the same whichever one made it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.crm.models import ProspectSearch, ProspectSort
from shared.errors import ValidationFailedError

__all__ = ["KeysetPosition", "decode_cursor", "encode_cursor", "search_fingerprint"]

# Integrity, not secrecy: the cursor only says where a page starts inside the caller's own
# tenant, so a fixed key is enough to catch edits and mix-ups; callers may pass their own.
_DEFAULT_KEY = b"switchboard-crm-cursor-v1"
_BAD_CURSOR = (
    "cursor is not valid for this search (edited, truncated, or from a different search); "
    "repeat the search without a cursor to start from the first page"
)
_PAGE_INDEPENDENT = {"cursor", "limit"}


@dataclass(frozen=True)
class KeysetPosition:
    """The last row of the previous page: its sort value (None: it had none) and id."""

    sort_value: float | int | str | datetime | None
    id: uuid.UUID


def search_fingerprint(search: ProspectSearch, tenant_id: uuid.UUID) -> str:
    """A digest of everything that decides row order and membership (not the page size)."""
    canonical = search.model_dump(mode="json", exclude=_PAGE_INDEPENDENT)
    canonical["tenant"] = str(tenant_id)
    blob = json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


def encode_cursor(fingerprint: str, position: KeysetPosition, *, key: bytes = _DEFAULT_KEY) -> str:
    value = position.sort_value
    payload: dict[str, Any] = {
        "q": fingerprint,
        "v": value.isoformat() if isinstance(value, datetime) else value,
        "id": position.id.hex,
    }
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    signature = hmac.new(key, body, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(signature + body).decode().rstrip("=")


def decode_cursor(
    cursor: str, search: ProspectSearch, fingerprint: str, *, key: bytes = _DEFAULT_KEY
) -> KeysetPosition:
    """The position a cursor points at; ValidationFailedError if it is not this search's."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise ValidationFailedError(_BAD_CURSOR) from None
    signature, body = raw[:16], raw[16:]
    expected = hmac.new(key, body, hashlib.sha256).digest()[:16]
    if len(signature) != 16 or not hmac.compare_digest(signature, expected):
        raise ValidationFailedError(_BAD_CURSOR)
    try:
        payload: Any = json.loads(body)
        if not isinstance(payload, dict):
            raise ValidationFailedError(_BAD_CURSOR)
        fields: dict[str, Any] = payload  # pyright: ignore[reportUnknownVariableType]
        if fields.get("q") != fingerprint:
            raise ValidationFailedError(_BAD_CURSOR)
        return KeysetPosition(_sort_value(search.sort, fields.get("v")), uuid.UUID(fields["id"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValidationFailedError(_BAD_CURSOR) from None


def _sort_value(sort: ProspectSort, value: Any) -> float | int | str | datetime | None:
    if value is None:
        return None
    match sort:
        case ProspectSort.UPDATED_AT:
            if not isinstance(value, str):
                raise ValueError("timestamp expected")
            return datetime.fromisoformat(value)
        case ProspectSort.NAME:
            if not isinstance(value, str):
                raise ValueError("text expected")
            return value
        case ProspectSort.REVIEW_COUNT:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError("integer expected")
            return value
        case ProspectSort.RATING | ProspectSort.LEAD_SCORE:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError("number expected")
            return float(value)
