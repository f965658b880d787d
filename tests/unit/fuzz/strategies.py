"""Hostile values shared by the fuzz suites: unicode edge cases, injection strings, huge
strings and values of the wrong JSON type."""

from __future__ import annotations

import functools
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "HOSTILE_STRINGS",
    "HUGE_STRING",
    "INTERNAL_MARKERS",
    "LONG_LIST",
    "WRONG_TYPES",
    "hostile_strings",
    "hostile_text",
    "json_values",
    "wrong_types",
]

HOSTILE_STRINGS: list[str] = [
    "",
    " ",
    "\x00",
    "nul\x00inside",
    "\ud800",  # lone high surrogate (JSON can carry it as \ud800)
    "lone \udfff low",
    "\u202eevil\u202c RTL override",
    "مرحبا بالعالم",  # Arabic, right to left
    "👩‍👩‍👧‍👦🦷🔥" * 20,  # emoji with zero-width joiners
    "e\u0301" * 500,  # combining marks
    "\ufeffBOM",
    "\r\n\t\x0b\x0c",
    "'; DROP TABLE accounts; --",
    "' OR '1'='1",
    '" OR 1=1 --',
    "%_\\",
    "{{ steps.x.secret }}",
    "{{ 7*7 }}{% raw %}",
    "${jndi:ldap://127.0.0.1/a}",
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "file:///etc/passwd",
    "<script>alert(1)</script>",
    "%s%n%x",
    "1e309",
    "NaN",
    "-1",
    "00000000-0000-0000-0000-000000000000",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
]
HUGE_STRING = "x" * 100_001  # past every declared maxLength
LONG_LIST = ["x"] * 2_000

WRONG_TYPES: list[Any] = [
    None,
    True,
    0,
    -1,
    2**64,
    -(2**70),
    1.5,
    1e308,
    [],
    [None],
    {},
    {"a": {"b": {"c": [1, "2", None]}}},
]

# Text that means an internal failure leaked to the caller instead of a readable error.
INTERNAL_MARKERS = (
    "Traceback",
    'File "',
    "/work/",
    "site-packages",
    "sqlalchemy",
    "sqlite3",
    "asyncpg",
    "UnicodeEncodeError",
    "OverflowError",
    "KeyError",
    "TypeError",
    "AttributeError",
    "errors.pydantic.dev",
)


@functools.cache
def hostile_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """A listed hostile string, or arbitrary text including surrogates and controls (the
    huge string only comes from hostile_strings(): it makes every example slow)."""
    return st.sampled_from(HOSTILE_STRINGS) | st.text(
        alphabet=st.characters(codec=None, exclude_categories=()), max_size=max_size
    )


def hostile_strings() -> st.SearchStrategy[str]:
    """The listed hostile strings and the huge one (mapped, so reprs stay short)."""
    return st.sampled_from(HOSTILE_STRINGS) | st.just(0).map(lambda _: HUGE_STRING)


def wrong_types() -> st.SearchStrategy[Any]:
    """Values of every JSON type, a 2,000-item list among them."""
    return st.sampled_from(WRONG_TYPES) | st.just(0).map(lambda _: list(LONG_LIST))


@functools.cache
def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """JSON-shaped values (what a parsed request body can hold), hostile strings included."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | hostile_text()
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(hostile_text(8), inner, max_size=4)
        ),
        max_leaves=max_leaves,
    )
