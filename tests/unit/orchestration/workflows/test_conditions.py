from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestration.workflows.conditions import ConditionError, parse_condition


def check(source: str, **context: Any) -> bool:
    return parse_condition(source).evaluate(context)


def test_spec_examples_evaluate() -> None:
    assert check("qualification_score > 80", qualification_score=85)
    assert not check("qualification_score > 80", qualification_score=80)
    rule = 'churn_probability >= 0.7 and industry in ["dentist", "hvac"]'
    assert check(rule, churn_probability=0.7, industry="hvac")
    assert not check(rule, churn_probability=0.9, industry="plumber")
    assert not check(rule, churn_probability=0.5, industry="dentist")


def test_boolean_operators_precedence_and_parentheses() -> None:
    assert check("a or b and c", a=True, b=False, c=False)  # and binds tighter
    assert not check("(a or b) and c", a=True, b=False, c=False)
    assert check("not a == 1", a=2)
    assert check("not (a > 1 or b > 1)", a=0, b=0)


def test_dotted_paths_read_nested_values_and_list_indexes() -> None:
    context = {
        "steps": {"analyze": {"score": 91}},
        "event": {"industry": "hvac"},
        "items": [{"n": 3}],
    }
    assert check("steps.analyze.score >= 90 and event.industry == 'hvac'", **context)
    assert check("items.0.n == 3", **context)


def test_literals_strings_numbers_booleans_null() -> None:
    assert check("a == null", a=None)
    assert check("missing == null")
    assert check("flag == true and off == false", flag=True, off=False)
    assert check('name == "O\\"Brien"', name='O"Brien')
    assert check("x == -1.5e1", x=-15.0)
    assert not check("flag == 1", flag=True)  # true is not 1


def test_not_in_and_string_containment() -> None:
    assert check('industry not in ["dentist"]', industry="hvac")
    assert check('"dent" in industry', industry="dentist")
    assert not check("x in missing")
    assert check("x not in missing")


def test_missing_values_compare_false_by_order() -> None:
    assert not check("score > 80")
    assert not check("score <= 80")


def test_type_mismatch_is_a_condition_error_with_column() -> None:
    with pytest.raises(ConditionError) as caught:
        check("score > 80", score="high")
    assert caught.value.column == 7
    assert "cannot compare a string with a number" in str(caught.value)


@pytest.mark.parametrize(
    ("source", "column", "words"),
    [
        ("score > ", 9, "value was expected"),
        ("score = 80", 7, "use '=='"),
        ("score > 80 and", 15, "value was expected"),
        ('industry in ["a", "b"', 22, "expected ',' or ']'"),
        ("(a > 1", 7, "expected ')'"),
        ("a > 1 > 2", 7, "cannot be chained"),
        ("'open", 1, "never closed"),
        ("a && b", 3, "write 'and'"),
        ("12abc > 1", 1, "malformed number"),
        ("a > 1 b", 7, "unexpected 'b'"),
        ("", 1, "empty"),
    ],
)
def test_syntax_errors_point_at_the_offending_column(source: str, column: int, words: str) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_condition(source)
    assert caught.value.column == column
    assert words in str(caught.value)
    rendered = str(caught.value).splitlines()
    assert rendered[2].index("^") - 2 == column - 1  # the caret sits under the token


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(ConditionError, match="nests deeper"):
        parse_condition("(" * 500 + "a" + ")" * 500)
    with pytest.raises(ConditionError, match="nests deeper"):
        parse_condition("not " * 500 + "a")


ALPHABET = st.sampled_from(
    [*"ab_.0123456789 ()[],'\"\\=!<>-+&|\n", "and ", "or ", "not ", "in ", "null", "true"]
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=60), st.lists(ALPHABET, max_size=40).map("".join)))
def test_arbitrary_text_only_ever_raises_condition_error(source: str) -> None:
    try:
        condition = parse_condition(source)
    except ConditionError:
        return
    for context in ({}, {"a": 1, "b": "x"}, {"a": [1, "x"], "b": None}, {"a": {"b": True}}):
        with contextlib.suppress(ConditionError):
            assert isinstance(condition.evaluate(context), bool)
