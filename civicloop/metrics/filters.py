"""The filter language of metric definitions: a small, documented subset of SQL conditions.

    request_type = 'Illegal dumping' AND district IN ('District 3', 'District 5')
    NOT (status = 'open') OR closed_at IS NULL
    opened_at BETWEEN DATE '2024-01-01' AND DATE '2024-12-31'
    days_between(opened_at, closed_at) <= 2

A condition compares columns, values and function calls with `= <> != < <= > >=`, `[NOT] IN
(...)`, `[NOT] BETWEEN ... AND ...` and `IS [NOT] NULL`; conditions combine with NOT, AND and OR
(binding in that order) and parentheses. Values are 'text' ('' for a quote), numbers, TRUE,
FALSE, DATE 'YYYY-MM-DD' and TIMESTAMP 'YYYY-MM-DD HH:MM[:SS]'. Functions: days_between, lower,
year, month. Keywords are case-insensitive; column names are normalised with `column_name()`,
so `BORO`, `boro` and `"BORO"` are one column. User reference: docs/metric-filters.md.

Text is parsed into frozen dataclasses (`parse_filter`), checked against a dataset's column types
(`check_filter`) and compiled to an Ibis boolean expression (`compile_filter`): it is never
pasted into SQL. Every problem is a `FilterError` saying what is wrong, where, and how to fix it.
No Django here.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

import ibis  # type: ignore[import-untyped, unused-ignore]
from ibis.expr.types import BooleanValue, Table, Value  # type: ignore[import-untyped, unused-ignore]

from civicloop.datasets.engine.schema import FieldType, column_name

MAX_LENGTH = 2000
MAX_DEPTH = 50

ColumnTypes = Mapping[str, FieldType]
LiteralValue = str | int | Decimal | bool | dt.date | dt.datetime


class FilterError(ValueError):
    """A filter that cannot be used; the message says what is wrong, where, and the fix."""

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position  # 0-based character offset in the filter text


def _error(what: str, position: int | None, fix: str) -> FilterError:
    return FilterError(f"{what}{_at(position)}: {fix}.", position)


def _at(position: int | None) -> str:
    return "" if position is None else f" at character {position + 1}"


# --- the syntax tree ------------------------------------------------------------------------
# `position` is for messages only and takes no part in equality, so a parsed filter equals the
# parse of its canonical text.


@dataclass(frozen=True)
class _Node:
    position: int | None = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True)
class Column(_Node):
    name: str


@dataclass(frozen=True)
class Literal(_Node):
    """A value; `kind` (string, number, boolean, date, timestamp) is inferred when omitted."""

    value: LiteralValue
    kind: str = ""

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", _kind_of(self.value))


@dataclass(frozen=True)
class Call(_Node):
    name: str
    args: tuple[Operand, ...]


@dataclass(frozen=True)
class Compare(_Node):
    op: str  # = <> < <= > >=  (!= is read as <>)
    left: Operand
    right: Operand


@dataclass(frozen=True)
class InList(_Node):
    operand: Operand
    values: tuple[Literal, ...]
    negated: bool = False


@dataclass(frozen=True)
class Between(_Node):
    operand: Operand
    low: Operand
    high: Operand
    negated: bool = False


@dataclass(frozen=True)
class IsNull(_Node):
    operand: Operand
    negated: bool = False


@dataclass(frozen=True)
class Not(_Node):
    operand: Node


@dataclass(frozen=True)
class And(_Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or(_Node):
    items: tuple[Node, ...]


Operand = Column | Literal | Call
Node = Column | Literal | Call | Compare | InList | Between | IsNull | Not | And | Or


def _kind_of(value: LiteralValue) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | Decimal):
        return "number"
    if isinstance(value, dt.datetime):
        return "timestamp"
    return "date" if isinstance(value, dt.date) else "string"


# --- types: a column's FieldType and every literal and function result have one kind ---------

_KIND = {"string": "string", "integer": "number", "number": "number", "year": "number"}
_KIND |= {"boolean": "boolean", "date": "date", "yearmonth": "date", "datetime": "timestamp"}
_WORDS = {  # kind -> (in words, an example value)
    "string": ("text", "'some text'"),
    "number": ("a number", "3"),
    "boolean": ("true/false", "TRUE"),
    "date": ("a date", "DATE '2024-01-01'"),
    "timestamp": ("a date and time", "TIMESTAMP '2024-01-01 09:00'"),
}
_TEMPORAL = frozenset({"date", "timestamp"})


class _Function(NamedTuple):
    params: tuple[frozenset[str], ...]
    result: str
    signature: str
    example: str


_DAYS = "days_between(opened_at, closed_at) <= 2"
FUNCTIONS = {
    "days_between": _Function((_TEMPORAL,) * 2, "number", "days_between(start, end)", _DAYS),
    "lower": _Function((frozenset({"string"}),), "string", "lower(text)", "lower(status) = 'x'"),
    "month": _Function((_TEMPORAL,), "number", "month(date)", "month(opened_at) = 12"),
    "year": _Function((_TEMPORAL,), "number", "year(date)", "year(opened_at) = 2024"),
}
_FUNCTION_LIST = ", ".join(spec.signature for spec in FUNCTIONS.values())


def _suggest(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# --- tokens ---------------------------------------------------------------------------------

KEYWORDS = frozenset(
    {"AND", "OR", "NOT", "IN", "BETWEEN", "IS", "NULL", "TRUE", "FALSE", "DATE", "TIMESTAMP"}
)
_SIMPLE = re.compile(
    r"(?P<space>\s+)|(?P<number>-?\d+(?:\.\d+)?)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op><=|>=|<>|!=|=|<|>)|(?P<punct>[(),])",
    re.ASCII,
)


class _Token(NamedTuple):
    kind: str  # number, ident, qident ("quoted name"), string, op, punct, end
    text: str
    value: str
    pos: int

    def keyword(self, *words: str) -> bool:
        return self.kind == "ident" and self.text.upper() in words

    def punct(self, char: str) -> bool:
        return self.kind == "punct" and self.text == char

    def shown(self) -> str:
        text = self.text if len(self.text) <= 40 else self.text[:37] + "..."
        return text if self.kind == "string" else f"'{text}'"


def _quoted(text: str, start: int) -> tuple[str, int]:
    """The content of the quoted string or name starting at `start`, and the offset after it."""
    quote, parts, i = text[start], [], start + 1
    while (end := text.find(quote, i)) >= 0:
        parts.append(text[i:end])
        if not text.startswith(quote, end + 1):
            return "".join(parts), end + 1
        parts.append(quote)
        i = end + 2
    what = "text value" if quote == "'" else "column name"
    fix = f"close it with {quote} (write {quote}{quote} for a {quote} inside it)"
    raise _error(f"Unterminated {what} starting", start, fix)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        if text[i] in "'\"":
            value, end = _quoted(text, i)
            if text[i] == '"' and not value.strip():
                raise _error(
                    'Empty column name ""', i, "write the column's name between the quotes"
                )
            tokens.append(_Token("string" if text[i] == "'" else "qident", text[i:end], value, i))
            i = end
        elif text.startswith(("--", "/*"), i):
            what = f"Comments ('{text[i : i + 2]}') are not part of the filter language"
            raise _error(what, i, "remove the comment; explain the metric in its description")
        elif text[i] == ";":
            fix = "a filter is one condition, not SQL statements; remove the ';' and what follows"
            raise _error("Unexpected ';'", i, fix)
        elif match := _SIMPLE.match(text, i):
            if match.lastgroup != "space":
                tokens.append(_Token(match.lastgroup or "", match.group(), match.group(), i))
            i = match.end()
        else:
            fix = (
                'write column names with other characters in double quotes, e.g. "closed at '
                "(utc)\", and text in single quotes, e.g. 'Walk-in'; arithmetic and other SQL "
                "are not part of the language"
            )
            raise _error(f"Unexpected character '{text[i]}'", i, fix)
    return [*tokens, _Token("end", "", "", len(text))]


# --- parser ---------------------------------------------------------------------------------

_OPERATORS = {"=": "=", "!=": "<>", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_VALUE = "a value (a 'quoted text', a number, TRUE, FALSE, DATE '...' or TIMESTAMP '...')"
_IN_EXAMPLE = "e.g. district IN ('District 3', 'District 5')"


def parse_filter(text: str) -> Node:
    """Filter text as a syntax tree; raises FilterError for anything outside the grammar."""
    if len(text) > MAX_LENGTH:
        raise FilterError(
            f"The filter is {len(text):,} characters long and the limit is {MAX_LENGTH:,}: "
            "shorten it, e.g. with IN lists, or split it into several metrics."
        )
    if not text.strip():
        raise FilterError("The filter is empty: write a condition, e.g. status = 'open'.", 0)
    parser = _Parser(_tokenize(text))
    node = parser.or_expr()
    parser.expect("", "AND, OR or the end of the filter")
    return node


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens, self.i, self.depth = tokens, 0, 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def accept(self, char: str) -> bool:
        if self.peek().punct(char):
            self.take()
            return True
        return False

    def expect(self, text: str, expected: str, fix: str = "") -> _Token:
        tok = self.peek()
        if tok.text.upper() == text and tok.kind not in ("string", "qident"):
            return self.take()
        raise self.unexpected(tok, expected, fix)

    def unexpected(self, tok: _Token, expected: str, fix: str = "") -> FilterError:
        what = "The filter ends too early" if tok.kind == "end" else f"Unexpected {tok.shown()}"
        return _error(what, tok.pos, f"expected {expected}" + (f"; {fix}" if fix else ""))

    def nest(self, tok: _Token, step: int = 1) -> None:
        self.depth += step
        if self.depth > MAX_DEPTH:
            what = f"The filter nests more than {MAX_DEPTH} levels deep"
            fix = "simplify it; parentheses, NOT and function calls each add a level"
            raise _error(what, tok.pos, fix)

    def or_expr(self) -> Node:
        return self.chain("OR", self.and_expr)

    def and_expr(self) -> Node:
        return self.chain("AND", self.not_expr)

    def chain(self, word: str, item: Callable[[], Node]) -> Node:
        items = [item()]
        while self.peek().keyword(word):
            self.take()
            items.append(item())
        if len(items) == 1:
            return items[0]
        return (Or if word == "OR" else And)(tuple(items), position=items[0].position)

    def not_expr(self) -> Node:
        if not self.peek().keyword("NOT"):
            return self.predicate()
        tok = self.take()
        self.nest(tok)
        node = Not(self.not_expr(), position=tok.pos)
        self.nest(tok, -1)
        return node

    def predicate(self) -> Node:
        start = self.peek()
        if self.accept("("):
            self.no_subquery()
            self.nest(start)
            node = self.or_expr()
            self.expect(")", f"')' to close the '('{_at(start.pos)}")
            self.nest(start, -1)
            return node
        left = self.operand()
        tok = self.peek()
        alone = isinstance(left, Column) or (isinstance(left, Literal) and left.kind == "boolean")
        if alone and (tok.kind == "end" or tok.punct(")") or tok.keyword("AND", "OR")):
            return left  # a true/false column or value standing alone
        self.take()
        negated = tok.keyword("NOT")
        if negated:
            tok = self.take()
            if not tok.keyword("IN", "BETWEEN"):
                raise self.unexpected(tok, "IN or BETWEEN after NOT")
        if tok.kind == "op":
            return Compare(_OPERATORS[tok.text], left, self.operand(), position=tok.pos)
        if tok.keyword("IN"):
            return InList(left, self.in_list(tok), negated, position=tok.pos)
        if tok.keyword("BETWEEN"):
            low = self.operand()
            self.expect("AND", "AND between the two bounds", "e.g. score BETWEEN 1 AND 5")
            return Between(left, low, self.operand(), negated, position=tok.pos)
        if tok.keyword("IS"):
            negated = self.peek().keyword("NOT")
            if negated:
                self.take()
            self.expect("NULL", "NULL or NOT NULL after IS", "e.g. closed_at IS NULL")
            return IsNull(left, negated, position=tok.pos)
        expected = "a comparison (=, <>, <, <=, >, >=), IN, BETWEEN or IS NULL"
        raise self.unexpected(tok, f"{expected} after {format_filter(left)}")

    def no_subquery(self) -> None:
        tok = self.peek()
        if tok.keyword("SELECT", "WITH"):
            what = f"Subqueries ({tok.text} ...) are not part of the filter language"
            raise _error(what, tok.pos, f"list the values instead, {_IN_EXAMPLE}")

    def in_list(self, keyword: _Token) -> tuple[Literal, ...]:
        self.expect("(", "'(' after IN", _IN_EXAMPLE)
        if self.peek().punct(")"):
            raise _error("Empty IN list", keyword.pos, f"give at least one value, {_IN_EXAMPLE}")
        self.no_subquery()
        values = [self.literal(_VALUE + " in the IN list", "IN takes values, not columns")]
        while self.accept(","):
            values.append(self.literal(_VALUE + " after ','"))
        self.expect(")", "',' or ')' in the IN list")
        return tuple(values)

    def literal(self, expected: str, fix: str = "") -> Literal:
        tok = self.take()
        if tok.kind == "string":
            return Literal(tok.value, "string", position=tok.pos)
        if tok.kind == "number":
            if len(tok.text.lstrip("-").split(".")[0]) > 18 or len(tok.text) > 30:
                raise _error(f"The number {tok.text} is too long", tok.pos, "use fewer digits")
            number = Decimal(tok.text) if "." in tok.text else int(tok.text)
            return Literal(number, "number", position=tok.pos)
        if tok.keyword("TRUE", "FALSE"):
            return Literal(tok.text.upper() == "TRUE", "boolean", position=tok.pos)
        if tok.keyword("DATE", "TIMESTAMP"):
            return self.temporal(tok)
        if tok.keyword("NULL"):
            what = "NULL is not a value to compare with"
            raise _error(what, tok.pos, "write closed_at IS NULL or closed_at IS NOT NULL")
        raise self.unexpected(tok, expected, fix)

    def temporal(self, word: _Token) -> Literal:
        kind = word.text.upper()
        example = "DATE '2024-01-31'" if kind == "DATE" else "TIMESTAMP '2024-01-31 09:30'"
        tok = self.take()
        if tok.kind != "string":
            raise self.unexpected(tok, f"a quoted value after {kind}", f"e.g. {example}")
        value = _temporal_value(kind, tok.value)
        if value is None:
            shape = "YYYY-MM-DD" if kind == "DATE" else "YYYY-MM-DD HH:MM[:SS]"
            real = "date" if kind == "DATE" else "date and time"
            fix = f"write {kind} '{shape}' with a real {real}, e.g. {example}"
            raise _error(f"Invalid {kind.lower()} {tok.text}", tok.pos, fix)
        return Literal(value, kind.lower(), position=word.pos)

    def operand(self) -> Operand:
        tok = self.peek()
        if tok.kind == "qident" or (tok.kind == "ident" and tok.text.upper() not in KEYWORDS):
            self.take()
            if tok.kind == "ident" and self.peek().punct("("):
                return self.call(tok)
            return Column(column_name(tok.value), position=tok.pos)
        return self.literal("a column, a value or a function call")

    def call(self, name: _Token) -> Call:
        function = name.text.lower()
        spec = FUNCTIONS.get(function)
        if spec is None:
            raise FilterError(
                f"Unknown function '{name.text}'{_at(name.pos)}. Functions: {_FUNCTION_LIST}"
                f"{_suggest(function, list(FUNCTIONS))}.",
                name.pos,
            )
        self.nest(self.take())
        args = [] if self.peek().punct(")") else [self.operand()]
        while args and self.accept(","):
            args.append(self.operand())
        self.expect(")", f"',' or ')' in the call to {function}()")
        self.nest(name, -1)
        if len(args) != len(spec.params):
            count = len(spec.params)
            what = f"{function}() takes {count} argument{'s' * (count > 1)}, not {len(args)}"
            raise _error(what, name.pos, f"write {spec.signature}, e.g. {spec.example}")
        return Call(function, tuple(args), position=name.pos)


def _temporal_value(kind: str, text: str) -> dt.date | None:
    """DATE 'YYYY-MM-DD' or TIMESTAMP 'YYYY-MM-DD HH:MM[:SS]' as a value; None if invalid."""
    text = text.strip()
    shape = r"\d{4}-\d{2}-\d{2}" + ("" if kind == "DATE" else r"[ T]\d{2}:\d{2}(:\d{2})?")
    try:
        if not re.fullmatch(shape, text):
            return None
        if kind == "DATE":
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text.replace("T", " "))
    except ValueError:
        return None


# --- canonical text -------------------------------------------------------------------------


def format_filter(node: Node) -> str:
    """The canonical text: upper-case keywords, normalised column names; parses back to `node`."""
    match node:
        case Column(name):
            plain = re.fullmatch(r"[A-Za-z_]\w*", name, re.ASCII) and name.upper() not in KEYWORDS
            return name if plain else '"' + name.replace('"', '""') + '"'
        case Literal():
            return _format_literal(node)
        case Call(name, args):
            return f"{name}({', '.join(map(format_filter, args))})"
        case Compare(op, left, right):
            return f"{format_filter(left)} {op} {format_filter(right)}"
        case InList(operand, values, negated):
            listed = ", ".join(map(format_filter, values))
            return f"{format_filter(operand)} {'NOT ' * negated}IN ({listed})"
        case Between(operand, low, high, negated):
            bounds = f"{format_filter(low)} AND {format_filter(high)}"
            return f"{format_filter(operand)} {'NOT ' * negated}BETWEEN {bounds}"
        case IsNull(operand, negated):
            return f"{format_filter(operand)} IS {'NOT ' * negated}NULL"
        case Not(operand):
            return "NOT " + _group(operand, (And, Or))
        case And(items):
            return " AND ".join(_group(item, (And, Or)) for item in items)
        case Or(items):
            return " OR ".join(_group(item, (Or,)) for item in items)
    raise TypeError(f"Not a filter node: {type(node).__name__}")


def _group(node: Node, kinds: tuple[type, ...]) -> str:
    return f"({format_filter(node)})" if isinstance(node, kinds) else format_filter(node)


def _format_literal(node: Literal) -> str:
    value = node.value
    if node.kind == "boolean":
        return "TRUE" if value else "FALSE"
    if node.kind == "number":
        return format(value, "f") if isinstance(value, Decimal) else str(value)
    if isinstance(value, dt.date):
        shape = "TIMESTAMP '%Y-%m-%d %H:%M:%S'" if node.kind == "timestamp" else "DATE '%Y-%m-%d'"
        return value.strftime(shape)
    return "'" + str(value).replace("'", "''") + "'"


# --- walking and checking -------------------------------------------------------------------


def _children(node: Node) -> Iterator[Node]:
    match node:
        case Call(_, args):
            yield from args
        case Compare(_, left, right):
            yield from (left, right)
        case InList(operand, values):
            yield from (operand, *values)
        case Between(operand, low, high):
            yield from (operand, low, high)
        case IsNull(operand) | Not(operand):
            yield operand
        case And(items) | Or(items):
            yield from items


def columns_used(node: Node) -> set[str]:
    """The warehouse column names the filter reads."""
    if isinstance(node, Column):
        return {node.name}
    return set().union(*map(columns_used, _children(node)))


def check_filter(node: Node, columns: ColumnTypes) -> None:
    """Check every column exists and every comparison and call has matching types."""
    _Checker(columns).condition(node)


class _Checker:
    def __init__(self, columns: ColumnTypes) -> None:
        self.columns = columns

    def condition(self, node: Node) -> None:
        match node:
            case And(items) | Or(items):
                for item in items:
                    self.condition(item)
            case Not(operand):
                self.condition(operand)
            case Compare(op, left, right):
                kind = self.compare(left, right, node.position)
                if kind == "boolean" and op not in ("=", "<>"):
                    fix = f"use = or <>, e.g. {format_filter(left)} = TRUE"
                    raise _error(
                        f"True/false values cannot be ordered with '{op}'", node.position, fix
                    )
            case InList(operand, values):
                for value in values:
                    self.compare(operand, value, value.position)
            case Between(operand, low, high):
                self.compare(operand, low, low.position)
                self.compare(operand, high, high.position)
            case IsNull(operand):
                self.kind(operand)
            case Column() | Literal() | Call():
                if (kind := self.kind(node)) != "boolean":
                    shown = f"{format_filter(node)} ({_WORDS[kind][0]})"
                    fix = f"compare it, e.g. {format_filter(node)} = {_WORDS[kind][1]}"
                    what = f"{shown}{_at(node.position)} is not a true/false value, so it cannot"
                    raise FilterError(f"{what} be a condition on its own: {fix}.", node.position)

    def kind(self, node: Operand) -> str:
        if isinstance(node, Literal):
            return node.kind
        if isinstance(node, Column):
            if node.name not in self.columns:
                names = sorted(self.columns)
                listed = ", ".join(names[:40]) + (", ..." if len(names) > 40 else "") or "none"
                raise FilterError(
                    f"Unknown column '{node.name}'{_at(node.position)}. Columns of this "
                    f"dataset: {listed}{_suggest(node.name, names)}.",
                    node.position,
                )
            return _KIND[self.columns[node.name]]
        spec = FUNCTIONS.get(node.name)
        if spec is None or len(spec.params) != len(node.args):
            what = f"Unknown function {node.name}() with {len(node.args)} arguments"
            raise _error(what, node.position, f"use one of {_FUNCTION_LIST}")
        for number, (arg, accepted) in enumerate(zip(node.args, spec.params, strict=True), 1):
            if (kind := self.kind(arg)) not in accepted:
                wanted = " or ".join(_WORDS[k][0] for k in sorted(accepted))
                what = f"{node.name}() needs {wanted} as argument {number}, but "
                what += f"{format_filter(arg)} is {_WORDS[kind][0]}"
                raise _error(what, arg.position, f"e.g. {spec.example}")
        return spec.result

    def compare(self, left: Operand, right: Operand, position: int | None) -> str:
        lk, rk = self.kind(left), self.kind(right)
        if lk == rk or {lk, rk} <= _TEMPORAL:
            return lk
        what = f"Cannot compare {format_filter(left)} ({_WORDS[lk][0]}) with "
        what += f"{format_filter(right)} ({_WORDS[rk][0]})"
        if isinstance(left, Literal) and not isinstance(right, Literal):
            left, right, lk, rk = right, left, rk, lk
        raise _error(what, position, _type_fix(left, right, lk, rk))


def _type_fix(left: Operand, right: Operand, lk: str, rk: str) -> str:
    """How to fix comparing `left` (of kind lk) with `right` (rk), in words."""
    if not isinstance(right, Literal):
        return f"both sides must be of the same kind; {format_filter(left)} is {_WORDS[lk][0]}"
    value = right.value
    plain = _format_literal(right).split("'")[1] if rk in _TEMPORAL else str(value)
    plain = _format_literal(right) if rk == "boolean" else plain.strip()
    if lk == "string":
        return f"quote the value, e.g. '{plain}'"
    if lk == "number" and re.fullmatch(r"-?\d+(\.\d+)?", plain):
        return f"remove the quotes, e.g. {plain}"
    if lk == "boolean" and plain.lower() in ("true", "false"):
        return f"write {plain.upper()} without quotes"
    for kind in ("DATE", "TIMESTAMP"):
        if lk in _TEMPORAL and rk == "string" and _temporal_value(kind, plain) is not None:
            return f"write it as {kind} '{plain}'"
    if lk in _TEMPORAL and rk == "number" and isinstance(value, int) and 1000 <= value <= 9999:
        year = f"year({format_filter(left)})"
        return f"for the year use {year}, e.g. {year} = {value}; for a day, DATE '{value}-01-01'"
    return f"compare it with {_WORDS[lk][0]}, e.g. {_WORDS[lk][1]}"


# --- compilation to Ibis --------------------------------------------------------------------

_COMPARE = {"=": operator.eq, "<>": operator.ne, "<": operator.lt, "<=": operator.le}
_COMPARE |= {">": operator.gt, ">=": operator.ge}
_DTYPES = {"string": "string", "integer": "integer", "floating": "number", "decimal": "number"}
_DTYPES |= {"boolean": "boolean", "date": "date", "timestamp": "datetime"}


def table_column_types(table: Table) -> dict[str, FieldType]:
    """An Ibis table's columns as filter types (columns of other types are left out)."""
    return {
        name: FieldType(kind)
        for name, dtype in table.schema().items()
        for test, kind in _DTYPES.items()
        if getattr(dtype, f"is_{test}")()
    }


def compile_filter(node: Node, table: Table) -> BooleanValue:
    """The filter as an Ibis boolean expression on `table`, checked against its columns first.

    NULLs follow SQL: a comparison with NULL is not true, so `table.filter(...)` drops the row.
    A DATE compared with a date and time stands for midnight at the start of that day.
    """
    check_filter(node, table_column_types(table))
    return _Compiler(table).condition(node)


class _Compiler:
    def __init__(self, table: Table) -> None:
        self.table = table

    def condition(self, node: Node) -> BooleanValue:
        match node:
            case And(items):
                return functools.reduce(operator.and_, map(self.condition, items))
            case Or(items):
                return functools.reduce(operator.or_, map(self.condition, items))
            case Not(operand):
                return ~self.condition(operand)
            case Compare(op, left, right):
                return _COMPARE[op](*self.values(left, right))
            case InList(operand, values, negated):
                first, *rest = self.values(operand, *values)
                return first.notin(rest) if negated else first.isin(rest)
            case Between(operand, low, high, negated):
                value, lo, hi = self.values(operand, low, high)
                return ~value.between(lo, hi) if negated else value.between(lo, hi)
            case IsNull(operand, negated):
                value = self.value(operand)
                return value.notnull() if negated else value.isnull()
        return self.value(node)

    def values(self, *nodes: Node) -> list[Value]:
        """Values to compare; with any date and time among them, dates become timestamps."""
        values = [self.value(node) for node in nodes]
        if any(value.type().is_timestamp() for value in values):
            return [_as_timestamp(value) for value in values]
        return values

    def value(self, node: Node) -> Value:
        match node:
            case Column(name):
                return self.table[name]
            case Literal(Decimal() as number, "number"):
                return ibis.literal(float(number), type="float64")
            case Literal(value, "number"):
                return ibis.literal(value, type="int64")
            case Literal(value, kind):
                return ibis.literal(value, type=kind)
            case Call("days_between", (start, end)):
                start, end = _as_timestamp(self.value(start)), _as_timestamp(self.value(end))
                return (end.epoch_seconds() - start.epoch_seconds()) / 86400
            case Call(name, (arg,)):
                return getattr(self.value(arg), name)()  # lower, year, month: checked names
        raise FilterError(f"A condition cannot be used as a value{_at(node.position)}.")


def _as_timestamp(value: Value) -> Value:
    return value.cast("timestamp") if value.type().is_date() else value
