"""The condition language's tokenizer: text to tokens, each with its 1-based column."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestration.workflows.errors import ConditionError

__all__ = ["Token", "tokenize"]

_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t"}


@dataclass(frozen=True)
class Token:
    kind: str  # number string name op ( ) [ ] , . - end
    text: str
    value: Any
    column: int  # 1-based


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        column = i + 1
        if ch in " \t\r\n":
            i += 1
        elif ch.isascii() and (ch.isalpha() or ch == "_"):
            j = i + 1
            while j < n and source[j].isascii() and (source[j].isalnum() or source[j] == "_"):
                j += 1
            tokens.append(Token("name", source[i:j], source[i:j], column))
            i = j
        elif ch.isascii() and ch.isdigit():
            i = _number(source, i, tokens)
        elif ch in "\"'":
            i = _string(source, i, tokens)
        elif source.startswith(("==", "!=", "<=", ">="), i):
            tokens.append(Token("op", source[i : i + 2], None, column))
            i += 2
        elif ch in "<>":
            tokens.append(Token("op", ch, None, column))
            i += 1
        elif ch in "()[],.-":
            tokens.append(Token(ch, ch, None, column))
            i += 1
        elif ch == "=":
            raise ConditionError("'=' is not an operator; use '==' to compare", source, column)
        elif ch in "&|!":
            hint = {"&": "and", "|": "or", "!": "not (or '!=')"}[ch]
            raise ConditionError(f"unexpected '{ch}'; write '{hint}'", source, column)
        else:
            raise ConditionError(f"unexpected character {ch!r}", source, column)
    tokens.append(Token("end", "", None, n + 1))
    return tokens


def _number(source: str, i: int, tokens: list[Token]) -> int:
    start, n = i, len(source)
    # After a '.', a number is a list index in a path (items.0.name), never a fraction.
    path_index = bool(tokens) and tokens[-1].kind == "."
    while i < n and source[i].isascii() and source[i].isdigit():
        i += 1
    is_float = False
    if not path_index and i + 1 < n and source[i] == "." and source[i + 1].isdigit():
        is_float = True
        i += 1
        while i < n and source[i].isascii() and source[i].isdigit():
            i += 1
    if not path_index and i < n and source[i] in "eE":
        j = i + 1
        if j < n and source[j] in "+-":
            j += 1
        if j < n and source[j].isascii() and source[j].isdigit():
            is_float = True
            i = j
            while i < n and source[i].isascii() and source[i].isdigit():
                i += 1
    text = source[start:i]
    if i < n and (source[i].isalpha() or source[i] == "_"):
        raise ConditionError(f"malformed number '{text}{source[i]}'", source, start + 1)
    value: float | int = float(text) if is_float else int(text)
    tokens.append(Token("number", text, value, start + 1))
    return i


def _string(source: str, i: int, tokens: list[Token]) -> int:
    quote, start, n = source[i], i, len(source)
    i += 1
    chars: list[str] = []
    while i < n:
        ch = source[i]
        if ch == quote:
            tokens.append(Token("string", source[start : i + 1], "".join(chars), start + 1))
            return i + 1
        if ch == "\\":
            if i + 1 >= n or source[i + 1] not in _ESCAPES:
                raise ConditionError("unknown escape in string", source, i + 1)
            chars.append(_ESCAPES[source[i + 1]])
            i += 2
            continue
        chars.append(ch)
        i += 1
    raise ConditionError("string is never closed", source, start + 1)
