"""Keyset cursors: they round-trip, and are refused when edited or used with another search."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest

from shared.crm.cursor import KeysetPosition, decode_cursor, encode_cursor, search_fingerprint
from shared.crm.models import ProspectSearch, ProspectSort
from shared.errors import ValidationFailedError

TENANT = uuid.uuid4()


@pytest.mark.parametrize(
    ("sort", "value"),
    [
        (ProspectSort.NAME, "Acme 'HVAC' ✓"),
        (ProspectSort.RATING, 4.7),
        (ProspectSort.REVIEW_COUNT, 120),
        (ProspectSort.LEAD_SCORE, 81.25),
        (ProspectSort.UPDATED_AT, datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC)),
        (ProspectSort.LEAD_SCORE, None),
    ],
)
def test_cursor_round_trips_each_sort_value(sort: ProspectSort, value: object) -> None:
    search = ProspectSearch(sort=sort, industry=["dentist"])
    fingerprint = search_fingerprint(search, TENANT)
    position = KeysetPosition(value, uuid.uuid4())  # type: ignore[arg-type]

    cursor = encode_cursor(fingerprint, position)

    assert decode_cursor(cursor, search, fingerprint) == position


def test_fingerprint_ignores_page_size_but_not_filters_sort_or_tenant() -> None:
    base = search_fingerprint(ProspectSearch(city="Austin"), TENANT)
    assert search_fingerprint(ProspectSearch(city="Austin", limit=7, cursor="x"), TENANT) == base
    assert search_fingerprint(ProspectSearch(city="Dallas"), TENANT) != base
    assert search_fingerprint(ProspectSearch(city="Austin", descending=False), TENANT) != base
    assert search_fingerprint(ProspectSearch(city="Austin"), uuid.uuid4()) != base


def _forge(payload: dict[str, object]) -> str:
    body = json.dumps(payload).encode()
    return base64.urlsafe_b64encode(b"\0" * 16 + body).decode()


def test_edited_foreign_or_garbage_cursors_are_refused() -> None:
    search = ProspectSearch()
    fingerprint = search_fingerprint(search, TENANT)
    cursor = encode_cursor(fingerprint, KeysetPosition(50.0, uuid.uuid4()))
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[-3] ^= 1  # flip one bit of the JSON body
    edited = base64.urlsafe_b64encode(bytes(raw)).decode()
    other = search_fingerprint(ProspectSearch(city="Austin"), TENANT)

    for bad in (
        edited,
        encode_cursor(other, KeysetPosition(50.0, uuid.uuid4())),
        _forge({"q": fingerprint, "v": 50.0, "id": uuid.uuid4().hex}),
        encode_cursor(fingerprint, KeysetPosition("fifty", uuid.uuid4())),  # wrong type
        "",
        "!!!",
        "a" * 40,
    ):
        with pytest.raises(ValidationFailedError, match="repeat the search without a cursor"):
            decode_cursor(bad, search, fingerprint)
