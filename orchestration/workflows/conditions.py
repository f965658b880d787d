"""The condition language of triggers and steps: tokenizer, parser to an AST, evaluator.

    qualification_score > 80
    churn_probability >= 0.7 and industry in ["dentist", "hvac"]
    not (steps.analyze.score < 50 or event.industry == null)

Never `eval`: the grammar has literals (numbers, strings, true/false/null, lists), dotted
paths looked up in a context dict, comparisons (== != < <= > >= in, not in), and/or/not
with parentheses. Every error is a ConditionError naming the column of the offending token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from orchestration.workflows.condition_lexer import Token, tokenize
from orchestration.workflows.errors import ConditionError

__all__ = [
    "BoolOp",
    "Compare",
    "Condition",
    "ConditionError",
    "ListExpr",
    "Literal",
    "Not",
    "Path",
    "parse_condition",
    "resolve_path",
]

MAX_LENGTH = 4_000
MAX_DEPTH = 64  # nesting of parentheses, lists and `not`; deeper is refused, never a crash
KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})


# ---- AST ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    value: Any
    column: int


@dataclass(frozen=True)
class Path:
    parts: tuple[str | int, ...]
    column: int

    @property
    def dotted(self) -> str:
        return ".".join(str(p) for p in self.parts)


@dataclass(frozen=True)
class ListExpr:
    items: tuple[Node, ...]
    column: int


@dataclass(frozen=True)
class Not:
    operand: Node
    column: int


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or
    operands: tuple[Node, ...]
    column: int


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node
    column: int  # the operator's column


Node = Literal | Path | ListExpr | Not | BoolOp | Compare


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.pos = 0
        self.depth = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.pos]

    def error(self, reason: str, token: Token | None = None) -> ConditionError:
        return ConditionError(reason, self.source, (token or self.current).column)

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def at_name(self, word: str) -> bool:
        return self.current.kind == "name" and self.current.text == word

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"condition nests deeper than {MAX_DEPTH} levels")

    def parse(self) -> Node:
        if self.current.kind == "end":
            raise self.error("condition is empty")
        node = self.parse_or()
        if self.current.kind != "end":
            raise self.error(f"unexpected '{self.current.text}' after a complete condition")
        return node

    def parse_or(self) -> Node:
        return self._bool("or", self.parse_and)

    def parse_and(self) -> Node:
        return self._bool("and", self.parse_not)

    def _bool(self, word: str, operand: Any) -> Node:
        first = operand()
        operands = [first]
        column = self.current.column
        while self.at_name(word):
            self.advance()
            operands.append(operand())
        return first if len(operands) == 1 else BoolOp(word, tuple(operands), column)

    def parse_not(self) -> Node:
        if self.at_name("not"):
            token = self.advance()
            self.nest()
            operand = self.parse_not()
            self.depth -= 1
            return Not(operand, token.column)
        return self.parse_comparison()

    def parse_comparison(self) -> Node:
        left = self.parse_operand()
        token = self.current
        if token.kind == "op" or self.at_name("in"):
            op = self.advance().text
        elif self.at_name("not") and self.tokens[self.pos + 1].text == "in":
            self.pos += 2
            op = "not in"
        else:
            return left
        right = self.parse_operand()
        if self.current.kind == "op" or self.at_name("in"):
            raise self.error("comparisons cannot be chained; join them with 'and'")
        return Compare(op, left, right, token.column)

    def parse_operand(self) -> Node:
        token = self.current
        if token.kind == "number":
            self.advance()
            return Literal(token.value, token.column)
        if token.kind == "-":
            self.advance()
            number = self.current
            if number.kind != "number":
                raise self.error("'-' must be followed by a number")
            self.advance()
            return Literal(-number.value, token.column)
        if token.kind == "string":
            self.advance()
            return Literal(token.value, token.column)
        if token.kind == "(":
            self.advance()
            self.nest()
            inner = self.parse_or()
            self.depth -= 1
            if self.current.kind != ")":
                raise self.error("expected ')' to close the '(' at column " + str(token.column))
            self.advance()
            return inner
        if token.kind == "[":
            return self.parse_list()
        if token.kind == "name":
            return self.parse_name()
        if token.kind == "end":
            raise self.error("condition ends where a value was expected")
        raise self.error(f"expected a value, found '{token.text}'")

    def parse_list(self) -> Node:
        opening = self.advance()
        self.nest()
        items: list[Node] = []
        while self.current.kind != "]":
            items.append(self.parse_operand())
            if self.current.kind == ",":
                self.advance()
            elif self.current.kind != "]":
                raise self.error("expected ',' or ']' in a list")
        self.advance()
        self.depth -= 1
        return ListExpr(tuple(items), opening.column)

    def parse_name(self) -> Node:
        token = self.advance()
        constants = {"true": True, "false": False, "null": None}
        if token.text in constants:
            return Literal(constants[token.text], token.column)
        if token.text in KEYWORDS:
            raise self.error(f"'{token.text}' is a keyword; a value was expected here", token)
        parts: list[str | int] = [token.text]
        while self.current.kind == ".":
            self.advance()
            part = self.current
            if part.kind == "name":
                parts.append(part.text)
            elif part.kind == "number" and isinstance(part.value, int):
                parts.append(part.value)
            else:
                raise self.error("expected a field name after '.'")
            self.advance()
        return Path(tuple(parts), token.column)


# ---- evaluation -----------------------------------------------------------------------


def resolve_path(context: Mapping[str, Any], parts: Sequence[str | int]) -> Any:
    """The value at a dotted path, or None when any part is missing."""
    value: Any = context
    for part in parts:
        if isinstance(value, Mapping):
            value = cast(Mapping[str, Any], value).get(str(part))
        elif isinstance(value, list | tuple) and isinstance(part, int):
            items = cast(Sequence[Any], value)
            value = items[part] if part < len(items) else None
        else:
            return None
        if value is None:
            return None
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if _is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    return "object" if isinstance(value, Mapping) else type(value).__name__


def _equal(left: Any, right: Any) -> bool:
    if isinstance(left, bool) != isinstance(right, bool):
        return False  # true is not 1
    return bool(left == right)


class Condition:
    """A parsed condition; `evaluate(context)` answers True or False."""

    def __init__(self, source: str, root: Node) -> None:
        self.source = source
        self.root = root

    def __repr__(self) -> str:
        return f"Condition({self.source!r})"

    def paths(self) -> list[Path]:
        """Every dotted path the condition reads, for validation at save time."""
        found: list[Path] = []
        stack: list[Node] = [self.root]
        while stack:
            node = stack.pop()
            if isinstance(node, Path):
                found.append(node)
            elif isinstance(node, ListExpr | BoolOp):
                stack.extend(node.items if isinstance(node, ListExpr) else node.operands)
            elif isinstance(node, Not):
                stack.append(node.operand)
            elif isinstance(node, Compare):
                stack.extend((node.left, node.right))
        return found

    def evaluate(self, context: Mapping[str, Any]) -> bool:
        """Raises ConditionError when values cannot be compared (e.g. a string with a number);
        a missing path is null, and null compared by order is simply false."""
        return _truthy(self._value(self.root, context))

    def _value(self, node: Node, context: Mapping[str, Any]) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Path):
            return resolve_path(context, node.parts)
        if isinstance(node, ListExpr):
            return [self._value(item, context) for item in node.items]
        if isinstance(node, Not):
            return not _truthy(self._value(node.operand, context))
        if isinstance(node, BoolOp):
            if node.op == "and":
                return all(_truthy(self._value(o, context)) for o in node.operands)
            return any(_truthy(self._value(o, context)) for o in node.operands)
        return self._compare(node, context)

    def _compare(self, node: Compare, context: Mapping[str, Any]) -> bool:
        left, right = self._value(node.left, context), self._value(node.right, context)
        op = node.op
        if op == "==":
            return _equal(left, right)
        if op == "!=":
            return not _equal(left, right)
        if op in ("in", "not in"):
            if right is None:
                return op == "not in"
            if isinstance(right, str):
                if not isinstance(left, str):
                    raise self._type_error(node, f"'{op}' a string needs a string on the left")
                found = left in right
            elif isinstance(right, list | tuple):
                found = any(_equal(left, item) for item in right)  # pyright: ignore[reportUnknownVariableType]
            elif isinstance(right, Mapping):
                found = isinstance(left, str) and left in right
            else:
                raise self._type_error(
                    node, f"'{op}' needs a list or string, not a {_type_name(right)}"
                )
            return found if op == "in" else not found
        if left is None or right is None:
            return False
        if not (
            (_is_number(left) and _is_number(right))
            or (isinstance(left, str) and isinstance(right, str))
        ):
            raise self._type_error(
                node, f"cannot compare a {_type_name(left)} with a {_type_name(right)} using '{op}'"
            )
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        return bool(left >= right)

    def _type_error(self, node: Compare, reason: str) -> ConditionError:
        return ConditionError(reason, self.source, node.column)


def _truthy(value: Any) -> bool:
    return bool(value)  # pyright: ignore[reportUnknownArgumentType]


def parse_condition(source: str) -> Condition:
    """Parse a condition; raises ConditionError (with column and caret) on any bad input."""
    if not isinstance(source, str):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ConditionError("a condition must be a string", str(source), 1)
    if len(source) > MAX_LENGTH:
        raise ConditionError(f"condition is longer than {MAX_LENGTH} characters", source, 1)
    return Condition(source, _Parser(source).parse())
