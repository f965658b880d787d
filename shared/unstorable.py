"""Text neither store can hold: Postgres refuses NUL in text and JSON, and a lone UTF-16
surrogate cannot be encoded as UTF-8 for either. Input carrying one is refused where it
enters (an event, a tool call) with the place named, never left to fail in the database."""

from __future__ import annotations

import re
from typing import Any, cast

__all__ = ["UNSTORABLE_REASON", "first_unstorable", "is_unstorable"]

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_REASON = (
    "contains a NUL character or a lone UTF-16 surrogate, which cannot be stored; remove it"
)


def is_unstorable(text: str) -> bool:
    return _UNSTORABLE.search(text) is not None


def first_unstorable(value: Any, where: str) -> str | None:
    """Where in `value` (dicts, lists, strings; keys too) the first unstorable text is, as a
    path like `data.notes[2]`, or None when there is none."""
    pending: list[tuple[str, Any]] = [(where, value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            if is_unstorable(item):
                return path
        elif isinstance(item, dict):
            for key, inner in cast("dict[Any, Any]", item).items():
                if is_unstorable(str(key)):
                    return f"a key of {path}"
                pending.append((f"{path}.{key}", inner))
        elif isinstance(item, list | tuple):
            elements = cast("list[Any]", item)
            pending.extend((f"{path}[{i}]", inner) for i, inner in enumerate(elements))
    return None
