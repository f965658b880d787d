from __future__ import annotations

from datetime import timedelta

import pytest

from orchestration.workflows.durations import parse_relative
from orchestration.workflows.errors import StepFailedError, TemplateError
from orchestration.workflows.templating import find_references, render

SCOPE = {"steps": {"analyze": {"score": 91, "tags": ["a", "b"]}}, "event": {"city": "Austin"}}


def test_a_whole_reference_keeps_its_type_and_text_is_interpolated() -> None:
    assert render("{{ steps.analyze.score }}", SCOPE) == 91
    assert render(" {{steps.analyze.tags}} ", SCOPE) == ["a", "b"]
    assert render("score {{ steps.analyze.score }} in {{ event.city }}", SCOPE) == (
        "score 91 in Austin"
    )
    assert render({"x": ["{{ event.city }}", 3]}, SCOPE) == {"x": ["Austin", 3]}


def test_a_missing_reference_is_an_error_naming_it() -> None:
    with pytest.raises(TemplateError, match=r"steps\.enrich\.email"):
        render("{{ steps.enrich.email }}", SCOPE)


def test_references_must_be_plain_paths() -> None:
    with pytest.raises(TemplateError, match="only a dotted path"):
        find_references("{{ a > 1 }}")
    with pytest.raises(TemplateError, match="never closed"):
        find_references("hello {{ a")
    assert [p.dotted for p in find_references({"k": "{{ steps.x.y }} {{ event.z }}"})] == [
        "steps.x.y",
        "event.z",
    ]


def test_relative_times() -> None:
    assert parse_relative("+3 days") == timedelta(days=3)
    assert parse_relative("90 minutes") == timedelta(minutes=90)
    assert parse_relative("1.5h") == timedelta(hours=1.5)
    with pytest.raises(StepFailedError, match="not a relative time"):
        parse_relative("next tuesday")
    with pytest.raises(StepFailedError, match="366 days"):
        parse_relative("400 days")


def test_a_delay_too_large_for_a_timedelta_is_a_step_error() -> None:
    with pytest.raises(StepFailedError, match="366 days"):
        parse_relative("+99999999999 days")
