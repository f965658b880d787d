"""`{{ steps.analyze.score }}` references in step fields, filled from the step context.

A field that is exactly one reference keeps the referenced value's type (a dict stays a
dict, 85 stays 85); a reference inside longer text is formatted into it. A reference is a
dotted path only (no expressions), parsed with the condition language's tokenizer.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any, cast

from orchestration.workflows.conditions import Path, parse_condition, resolve_path
from orchestration.workflows.errors import ConditionError, TemplateError

__all__ = ["find_references", "parse_reference", "render"]

_REFERENCE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


@functools.lru_cache(maxsize=4096)
def parse_reference(expression: str) -> Path:
    """The path inside `{{ ... }}`; raises TemplateError unless it is a plain dotted path.
    Parsed once per distinct text: a step's references are filled in for every run (a
    parsed Path is never changed; a refused text is refused again each time)."""
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
    if isinstance(value, dict):  # what step fields hold; tested before Mapping, which is slower
        return {str(k): render(v, context) for k, v in cast(dict[Any, Any], value).items()}
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
    if "{{" not in text:  # no reference: what the substitution below would give back
        return text
    whole, pieces, tail = _pieces_of(text)
    if whole is not None:
        return _lookup(whole, context)
    out: list[str] = []
    for literal, expression in pieces:  # in order: the first reference with no value raises
        out.append(literal)
        found = _lookup(expression, context)
        out.append(found if isinstance(found, str) else json.dumps(found, default=str))
    out.append(tail)
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def _pieces_of(text: str) -> tuple[str | None, tuple[tuple[str, str], ...], str]:
    """A text with references, split once per distinct text (a step's fields are rendered
    for every run): the reference it wholly is, or its (text before, reference) pieces and
    the text after the last one, as `_REFERENCE.sub` would walk it."""
    whole = _REFERENCE.fullmatch(text.strip())
    if whole is not None:
        return whole.group(1), (), ""
    pieces: list[tuple[str, str]] = []
    end = 0
    for match in _REFERENCE.finditer(text):
        pieces.append((text[end : match.start()], match.group(1)))
        end = match.end()
    return None, tuple(pieces), text[end:]
