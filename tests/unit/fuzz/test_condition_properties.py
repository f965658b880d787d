"""The condition language under arbitrary input: any string parses or raises a ConditionError
whose column points inside the source; any condition the grammar allows parses, reads exactly
the paths written in it, and evaluates on any JSON context to a bool or a ConditionError."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestration.workflows.conditions import MAX_DEPTH, ConditionError, parse_condition
from tests.unit.fuzz.profile import fuzz_settings
from tests.unit.fuzz.strategies import HOSTILE_STRINGS, hostile_text, json_values

# Fragments that make near-miss conditions more often than random characters do.
FRAGMENTS = st.sampled_from(
    [
        "score", "steps.analyze.score", "items.0", "and", "or", "not", "in", "not in", "==",
        "!=", "<", "<=", ">", ">=", "=", "&&", "||", "!", "(", ")", "[", "]", ",", ".", "-",
        "1", "0.5", "1e3", "1e99999", "9" * 400, "'a'", '"b"', "'\\x'", "'open", "true", "null",
        "é", "\x00", "\ud800", " ", "\n",
    ]
)  # fmt: skip
SOURCES = st.lists(FRAGMENTS, max_size=20).map(" ".join) | hostile_text(60)


@fuzz_settings(max_examples=150)
@given(SOURCES)
def test_any_text_parses_or_points_at_a_column(source: str) -> None:
    try:
        parse_condition(source)
    except ConditionError as exc:
        assert 1 <= exc.column <= len(source) + 1
        assert f"at column {exc.column}" in str(exc) and "^" in str(exc)


def quote(text: str) -> str:
    """A string literal of the language that means `text`."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped.replace("\t", "\\t") + '"'


@dataclass(frozen=True)
class Written:
    """A condition as text, and the dotted paths written in it."""

    source: str
    paths: frozenset[str]


NAMES = st.sampled_from(["score", "industry", "a_b", "steps.analyze.score", "event.items.0.n"])
NUMBERS = st.integers(-(10**12), 10**12).map(str) | st.floats(
    allow_nan=False, allow_infinity=False
).map(repr)
# Hostile strings short enough that a condition stays under MAX_LENGTH.
TEXTS = st.sampled_from(HOSTILE_STRINGS) | st.text(
    alphabet=st.characters(codec=None, exclude_categories=()), max_size=20
)
LITERALS = (NUMBERS | TEXTS.map(quote) | st.sampled_from(["true", "false", "null"])).map(
    lambda s: Written(s, frozenset())
)
PATHS = NAMES.map(lambda n: Written(n, frozenset({n})))


def _list(items: list[Written]) -> Written:
    return Written("[" + ", ".join(i.source for i in items) + "]", frozenset())


OPERANDS = LITERALS | PATHS | st.lists(LITERALS, max_size=4).map(_list)
OPS = st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in"])
COMPARISONS = st.tuples(OPERANDS, OPS, OPERANDS).map(
    lambda t: Written(f"{t[0].source} {t[1]} {t[2].source}", t[0].paths | t[2].paths)
)


def _extend(inner: st.SearchStrategy[Written]) -> st.SearchStrategy[Written]:
    both = st.tuples(inner, st.sampled_from(["and", "or"]), inner)
    return inner.map(lambda w: Written(f"not ({w.source})", w.paths)) | both.map(
        lambda t: Written(f"({t[0].source}) {t[1]} ({t[2].source})", t[0].paths | t[2].paths)
    )


CONDITIONS = st.recursive(COMPARISONS | PATHS, _extend, max_leaves=8)
CONTEXTS = st.fixed_dictionaries(
    {},
    optional={
        "score": json_values(3),
        "industry": json_values(3),
        "a_b": json_values(3),
        "steps": st.fixed_dictionaries(
            {"analyze": st.fixed_dictionaries({"score": json_values(3)})}
        ),
        "event": st.fixed_dictionaries({"items": st.lists(json_values(3), max_size=2)}),
    },
)


def _evaluate(source: str, context: dict[str, Any]) -> bool | ConditionError:
    try:
        return parse_condition(source).evaluate(context)
    except ConditionError as exc:
        return exc


@fuzz_settings(max_examples=100)
@given(CONDITIONS, CONTEXTS)
def test_grammar_conditions_parse_and_evaluate_to_a_bool_or_a_type_error(
    written: Written, context: dict[str, Any]
) -> None:
    condition = parse_condition(written.source)
    assert {p.dotted for p in condition.paths()} == written.paths
    outcome = _evaluate(written.source, context)
    if isinstance(outcome, ConditionError):
        assert "cannot compare" in outcome.reason or "needs" in outcome.reason, outcome
        assert 1 <= outcome.column <= len(written.source)
    else:
        assert isinstance(outcome, bool)


@fuzz_settings(max_examples=60)
@given(CONDITIONS, CONDITIONS, CONTEXTS)
def test_not_and_or_agree_with_python(
    left: Written, right: Written, context: dict[str, Any]
) -> None:
    a, b = _evaluate(left.source, context), _evaluate(right.source, context)
    if isinstance(a, ConditionError) or isinstance(b, ConditionError):
        return
    assert _evaluate(f"not ({left.source})", context) is (not a)
    assert _evaluate(f"({left.source}) and ({right.source})", context) is (a and b)
    assert _evaluate(f"({left.source}) or ({right.source})", context) is (a or b)
    spaced = left.source.replace(" ", "  \t ")
    if '"' not in left.source:  # spaces inside string literals are part of the value
        assert _evaluate(spaced, context) is a


@fuzz_settings(max_examples=100)
@given(TEXTS)
def test_any_string_literal_round_trips(text: str) -> None:
    assert parse_condition(f"value == {quote(text)}").evaluate({"value": text})
    assert not parse_condition(f"value != {quote(text)}").evaluate({"value": text})


@fuzz_settings(max_examples=50)
@given(st.integers(-(10**15), 10**15), st.integers(-(10**15), 10**15))
def test_number_comparisons_agree_with_python(a: int, b: int) -> None:
    context = {"a": a}
    assert parse_condition(f"a < {b}").evaluate(context) is (a < b)
    assert parse_condition(f"a >= {b}").evaluate(context) is (a >= b)
    assert parse_condition(f"a == {b}").evaluate(context) is (a == b)


@pytest.mark.parametrize(
    "source",
    [
        "(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1),
        "not " * (MAX_DEPTH + 1) + "a",
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        "a == " + "[" * 1_500,
        "a" + " and a" * 2_000,
        "9" * 3_999,
    ],
)
def test_deep_or_long_conditions_are_refused_not_crashed(source: str) -> None:
    try:
        condition = parse_condition(source)
    except ConditionError as exc:
        assert "column" in str(exc)
    else:
        assert isinstance(condition.evaluate({"a": 1}), bool)
