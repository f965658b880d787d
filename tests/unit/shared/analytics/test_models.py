"""Input validation: aware timestamps, clear messages, and the result contract."""

from __future__ import annotations

from datetime import datetime

import pytest
from pydantic import ValidationError

from shared.analytics.lead_scoring import qualify_lead
from shared.analytics.models import AccountActivity, Transaction, resolve_as_of
from shared.errors import ValidationFailedError
from tests.unit.shared.analytics.factories import business


def test_a_naive_as_of_is_rejected_with_an_example() -> None:
    with pytest.raises(ValidationFailedError, match="as_of has no time zone; pass an aware"):
        resolve_as_of(datetime(2026, 1, 1))
    with pytest.raises(ValidationFailedError, match="time zone"):
        qualify_lead(business(), as_of=datetime(2026, 1, 1))


def test_transactions_need_aware_times_and_non_negative_amounts() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        Transaction(customer_id="c", occurred_at=datetime(2026, 1, 1), amount=5)
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        Transaction.model_validate(
            {"customer_id": "c", "occurred_at": "2026-01-01T00:00:00Z", "amount": -1}
        )


def test_unknown_input_fields_are_rejected_not_ignored() -> None:
    with pytest.raises(ValidationError, match="stars"):
        business(stars=5)
    activity = AccountActivity.model_validate(
        {"kind": "Support_Ticket", "occurred_at": "2026-01-01T00:00:00Z"}
    )
    assert activity.kind == "support_ticket"


def test_every_result_says_how_it_was_computed() -> None:
    result = qualify_lead(business(rating=4.0), as_of=resolve_as_of(None)).model_dump()
    assert {"method", "inputs_used", "confidence", "explanation"} <= result.keys()
    assert result["inputs_used"]
    assert result["explanation"]
