"""CustomerEvent validation under arbitrary JSON: an event or a pydantic ValidationError,
never another exception; a valid event is queued on SQLite or refused with a
SwitchboardError (e.g. an unconfigured custom type), and a repeat is a duplicate."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from orchestration.events.models import CustomerEvent
from orchestration.events.publish import publish
from shared.errors import SwitchboardError
from tests.unit.fuzz.profile import fuzz_settings
from tests.unit.fuzz.strategies import json_values
from tests.unit.fuzz.world import ThreadedWorld, world_in_thread

# Text that every store can hold; what they cannot (lone surrogates, NUL, timestamps that
# leave years 1..9999 in UTC) CustomerEvent refuses: see UNSTORABLE below.
STORABLE = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30
) | st.sampled_from(["'; DROP TABLE event_queue; --", "{{ steps.x }}", "../../etc/passwd", ""])


def _storable_json(leaves: int) -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | STORABLE
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(STORABLE, inner, max_size=3),
        max_leaves=leaves,
    )


STORABLE_JSON = _storable_json(8)
TIMESTAMPS = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=st.timezones()
).map(datetime.isoformat) | st.sampled_from(["2026-03-01", "2026-03-01T09:00:00Z"])
GOOD_TYPES = st.sampled_from(["lead_qualified", "deal_closed", "churn_risk_detected"])
BAD_TYPES = st.sampled_from(["custom_thing", "X", "a", "lead-qualified", "ä_type"]) | STORABLE


def _mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Three in four draws valid, so validation passes often enough to test what follows."""
    return st.sampled_from([good, good, good, bad]).flatmap(lambda chosen: chosen)


FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "eventId": _mostly(st.uuids().map(str) | STORABLE.filter(bool), json_values(2)),
    "customerId": _mostly(STORABLE | st.none(), st.integers() | json_values(2)),
    "eventData": _mostly(st.dictionaries(STORABLE, STORABLE_JSON, max_size=4), json_values(3)),
    "timestamp": _mostly(TIMESTAMPS, st.sampled_from(["not a time", "", "1e9", "2026-13-01"])),
    "source": _mostly(st.sampled_from(["crm", "n8n", "make", "clickup", "apify"]), STORABLE),
    "priority": _mostly(st.sampled_from(["low", "medium", "high", "critical"]), json_values(2)),
    "workflow_triggers": _mostly(st.lists(STORABLE, max_size=3) | st.none(), json_values(2)),
}
DOCUMENTS = _mostly(
    st.fixed_dictionaries({"eventType": _mostly(GOOD_TYPES, BAD_TYPES)}, optional=FIELDS),
    # a field the model does not know
    st.fixed_dictionaries({"eventType": GOOD_TYPES, "unexpected": json_values(2)}),
)


@fuzz_settings(max_examples=150)
@given(DOCUMENTS)
def test_any_event_document_validates_or_says_why(document: dict[str, Any]) -> None:
    try:
        event = CustomerEvent.model_validate({**document, "tenantId": str(uuid.uuid4())})
    except ValidationError as exc:
        assert exc.errors()
        return
    assert event.timestamp.tzinfo is not None
    assert 1 <= event.queue_priority <= 7


@pytest.fixture(scope="module")
def store(fuzz_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedWorld]:
    with world_in_thread(fuzz_template, tmp_path_factory.mktemp("fuzz-events")) as threaded:
        yield threaded


@fuzz_settings(max_examples=100)
@given(DOCUMENTS)
def test_valid_events_are_queued_once_or_refused_readably(
    store: ThreadedWorld, document: dict[str, Any]
) -> None:
    document = {**document, "eventId": str(uuid.uuid4())}  # examples must not collide
    try:
        event = CustomerEvent.model_validate({**document, "tenantId": store.world.tenant_id})
    except ValidationError:
        return
    try:
        first = store.portal.call(publish, store.database, event)
    except SwitchboardError as exc:
        assert str(exc)
        return
    again = store.portal.call(publish, store.database, event)
    assert not first.duplicate and again.duplicate and again.queue_id == first.queue_id


def _nested(depth: int) -> dict[str, Any]:
    data: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        data = {"d": data}
    return data


UNSTORABLE: list[dict[str, Any]] = [
    {"timestamp": "0001-01-01T00:00:00+01:00"},
    {"timestamp": "9999-12-31T23:59:59-01:00"},
    {"eventId": "nul\x00id"},
    {"eventData": {"note": "\udfff"}},
    {"eventData": {"list": ["ok", {"key\x00": 1}]}},
    {"customerId": "c\x00"},
    {"workflow_triggers": ["wf\ud800"]},
    {"eventData": _nested(40)},
]


@pytest.mark.parametrize("document", UNSTORABLE)
def test_unstorable_event_fields_are_a_validation_error(
    store: ThreadedWorld, document: dict[str, Any]
) -> None:
    fields = {"eventType": "deal_closed", "tenantId": store.world.tenant_id, **document}
    with pytest.raises(ValidationError):
        event = CustomerEvent.model_validate(fields)
        store.portal.call(publish, store.database, event)  # crashes today instead
