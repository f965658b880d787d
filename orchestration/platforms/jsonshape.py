"""Narrowing untyped JSON from platforms to the shapes adapters read, without guessing."""

from __future__ import annotations

from typing import Any, cast

__all__ = ["as_dict", "as_list", "dicts", "text"]


def as_dict(value: object) -> dict[str, Any]:
    """`value` if it is a JSON object, else `{}`."""
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return cast(list[Any], value) if isinstance(value, list) else []


def dicts(value: object) -> list[dict[str, Any]]:
    """The JSON objects in a JSON array (anything else in it is skipped)."""
    items: list[object] = as_list(value)
    return [cast(dict[str, Any], item) for item in items if isinstance(item, dict)]


def text(value: object) -> str | None:
    """A non-empty string form of a scalar, or None."""
    if value is None or isinstance(value, dict | list):
        return None
    result = str(value)
    return result or None
