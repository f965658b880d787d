"""`{{ steps.analyze.score }}` references in step fields, filled from the step context.

A field that is exactly one reference keeps the referenced value's type (a dict stays a
dict, 85 stays 85); a reference inside longer text is formatted into it. A reference is a
dotted path only (no expressions), parsed with the condition language's tokenizer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, cast

from orchestration.workflows.conditions import Path, parse_condition, resolve_path
from orchestration.workflows.errors import ConditionError, TemplateError

__all__ = ["find_references", "parse_reference", "render"]

_REFERENCE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


def parse_reference(expression: str) -> Path:
    """The path inside `{{ ... }}`; raises TemplateError unless it is a plain dotted path."""
    try:
        node = parse_condition(expression.strip()).root
    except ConditionError as exc:
        raise TemplateError(f"bad reference '{{{{{expression}}}}}': {exc.reason}") from None
    if not isinstance(node, Path):
        raise TemplateError(
            f"bad reference '{{{{{expression}}}}}': only a dotted path such as "
            "steps.analyze.score may appear inside {{ }}"
        )
    return node


def find_references(value: Any) -> list[Path]:
    """Every reference in a field value (strings inside dicts and lists included)."""
    found: list[Path] = []
    if isinstance(value, str):
        if "{{" in value and "}}" not in value[value.index("{{") :]:
            raise TemplateError(f"'{{{{' is never closed in {value!r}")
        found.extend(parse_reference(m.group(1)) for m in _REFERENCE.finditer(value))
    elif isinstance(value, Mapping):
        for item in value.values():  # pyright: ignore[reportUnknownVariableType]
            found.extend(find_references(item))
    elif isinstance(value, list):
        for item in value:  # pyright: ignore[reportUnknownVariableType]
            found.extend(find_references(item))
    return found


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """A copy of `value` with every reference filled in.

    Raises TemplateError when a reference names nothing (a missing step output is a data
    problem the workflow's author must see, not an empty string sent to a customer).
    """
    if isinstance(value, str):
        return _render_text(value, context)
    if isinstance(value, Mapping):
        return {str(k): render(v, context) for k, v in cast(Mapping[Any, Any], value).items()}
    if isinstance(value, list):
        return [render(item, context) for item in cast(list[Any], value)]
    return value


def _lookup(expression: str, context: Mapping[str, Any]) -> Any:
    path = parse_reference(expression)
    found = resolve_path(context, path.parts)
    if found is None:
        raise TemplateError(f"'{{{{ {path.dotted} }}}}' has no value in this execution")
    return found


def _render_text(text: str, context: Mapping[str, Any]) -> Any:
    whole = _REFERENCE.fullmatch(text.strip())
    if whole is not None:
        return _lookup(whole.group(1), context)

    def substitute(match: re.Match[str]) -> str:
        found = _lookup(match.group(1), context)
        if isinstance(found, str):
            return found
        return json.dumps(found, default=str)

    return _REFERENCE.sub(substitute, text)
