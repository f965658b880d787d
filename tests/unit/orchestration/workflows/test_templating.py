from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestration.workflows.conditions import Path, parse_condition, resolve_path
from orchestration.workflows.durations import parse_relative
from orchestration.workflows.errors import ConditionError, StepFailedError, TemplateError
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


def _rendered_by_substitution(text: str, context: dict[str, Any]) -> Any:
    """What render made of a text before it split texts once and cached parsed references:
    a fresh parse of every reference and re.sub over the text (the reference path)."""
    pattern = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)

    def lookup(expression: str) -> Any:
        try:
            node = parse_condition(expression.strip()).root
        except ConditionError as exc:
            raise TemplateError(f"bad reference '{{{{{expression}}}}}': {exc.reason}") from None
        if not isinstance(node, Path):
            raise TemplateError(
                f"bad reference '{{{{{expression}}}}}': only a dotted path such as "
                "steps.analyze.score may appear inside {{ }}"
            )
        found = resolve_path(context, node.parts)
        if found is None:
            raise TemplateError(f"'{{{{ {node.dotted} }}}}' has no value in this execution")
        return found

    whole = pattern.fullmatch(text.strip())
    if whole is not None:
        return lookup(whole.group(1))

    def substitute(match: re.Match[str]) -> str:
        found = lookup(match.group(1))
        return found if isinstance(found, str) else json.dumps(found, default=str)

    return pattern.sub(substitute, text)


TEXTS = [
    "plain text",
    "",
    "{{ steps.analyze.score }}",
    "  {{steps.analyze.tags}}\n",
    "score {{ steps.analyze.score }} in {{ event.city }}!",
    "{{ event.city }}{{ event.city }}",
    "{{ steps.analyze.score }} and {{ steps.analyze.tags }}",
    "{{ event.city }} {{ steps.nothing.here }} {{ a > 1 }}",  # the first failure is reported
    "{{ a > 1 }} then {{ steps.nothing.here }}",
    "{{ steps.analyze }} as JSON",
    "never closed {{ event.city",
    "{{ event.city }} and an unclosed {{ tail",
    "{{\nevent.city\n}}",
    "{{ }}",
    "{{ 'quoted' }}",
    "100% {{ event.city }} }} {{",
]


@pytest.mark.parametrize("text", TEXTS)
def test_rendering_a_text_gives_what_substitution_gave(text: str) -> None:
    def outcome(render_text: Any) -> Any:
        try:
            return ("value", render_text(text, SCOPE))
        except TemplateError as exc:
            return ("error", str(exc))

    expected = outcome(_rendered_by_substitution)
    assert outcome(render) == expected
    assert outcome(render) == expected  # again, from what was cached the first time


@given(
    st.lists(
        st.sampled_from(
            ["a", " ", "{{", "}}", "{{ event.city }}", "{{ steps.analyze.score }}", "{", "}"]
        ),
        max_size=8,
    )
)
def test_any_mix_of_text_and_references_renders_as_substitution_did(parts: list[str]) -> None:
    text = "".join(parts)
    try:
        expected: Any = _rendered_by_substitution(text, SCOPE)
    except TemplateError as exc:
        expected = str(exc)
    try:
        got: Any = render(text, SCOPE)
    except TemplateError as exc:
        got = str(exc)
    assert got == expected
