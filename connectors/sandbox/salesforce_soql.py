"""The small part of SOQL the sandbox's Salesforce face understands.

``SELECT f, ... | COUNT() FROM Object [WHERE cond] [ORDER BY f [ASC|DESC], ...] [LIMIT n]``
where a condition is comparisons (``= != < <= > >=``, ``IN (...)``, ``NOT IN (...)``) of a
field with a literal (a quoted string, a number, a datetime or date, ``null``, ``true``,
``false``), joined by ``AND`` / ``OR`` / ``NOT`` and parentheses. Field names are matched
without regard to case, as Salesforce does. Anything else is a :class:`SoqlError`, which the
face answers as Salesforce would: HTTP 400 with ``MALFORMED_QUERY`` or ``INVALID_FIELD``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

_TOKEN = re.compile(r"""
    \s*(?:
      (?P<string>'(?:[^'\\]|\\.)*')
    | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
    | (?P<date>\d{4}-\d{2}-\d{2})
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<op><=|>=|!=|<>|=|<|>|\(|\)|,)
    | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""", re.VERBOSE)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "'": "'", '"': '"', "\\": "\\"}
Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]


class SoqlError(Exception):
    """A query the face cannot run; ``code`` is the Salesforce error code to answer with."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Comparison:
    """``field op value`` (``IN`` holds a list)."""

    field: str
    op: str
    value: Any


@dataclass
class BoolOp:
    """``AND`` / ``OR`` over parts, or ``NOT`` over one."""

    op: str
    parts: list[Any]


@dataclass
class Query:
    """A parsed SELECT."""

    fields: list[str]
    sobject: str
    where: Comparison | BoolOp | None = None
    order_by: list[tuple[str, bool]] = field(default_factory=list)  # (field, descending)
    limit: int | None = None
    count_only: bool = False


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise SoqlError("MALFORMED_QUERY", f"unexpected text at: {text[position:][:30]!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        position = match.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token and token[0] == "word" and token[1].upper() in words:
            self.at += 1
            return True
        return False

    def expect(self, kind: str, value: str | None = None) -> str:
        token = self.peek()
        if token is None or token[0] != kind or (
                value is not None and token[1].upper() != value):
            raise SoqlError("MALFORMED_QUERY", f"expected {value or kind}, found "
                            f"{token[1] if token else 'the end of the query'!r}")
        self.at += 1
        return token[1]

    def query(self) -> Query:
        self.expect("word", "SELECT")
        fields: list[str] = []
        count_only = False
        if self.keyword("COUNT"):
            self.expect("op", "(")
            self.expect("op", ")")
            count_only = True
        else:
            fields.append(self.expect("word"))
            while self.peek() == ("op", ","):
                self.at += 1
                fields.append(self.expect("word"))
        self.expect("word", "FROM")
        query = Query(fields=fields, sobject=self.expect("word"), count_only=count_only)
        if self.keyword("WHERE"):
            query.where = self.disjunction()
        if self.keyword("ORDER"):
            self.expect("word", "BY")
            while True:
                name = self.expect("word")
                descending = self.keyword("DESC")
                if not descending:
                    self.keyword("ASC")
                query.order_by.append((name, descending))
                if self.peek() != ("op", ","):
                    break
                self.at += 1
        if self.keyword("LIMIT"):
            query.limit = int(self.expect("number"))
        if self.peek() is not None:
            raise SoqlError("MALFORMED_QUERY", f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return query

    def disjunction(self) -> Comparison | BoolOp:
        parts = [self.conjunction()]
        while self.keyword("OR"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else BoolOp("OR", parts)

    def conjunction(self) -> Comparison | BoolOp:
        parts = [self.factor()]
        while self.keyword("AND"):
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else BoolOp("AND", parts)

    def factor(self) -> Comparison | BoolOp:
        if self.keyword("NOT"):
            return BoolOp("NOT", [self.factor()])
        if self.peek() == ("op", "("):
            self.at += 1
            inner = self.disjunction()
            self.expect("op", ")")
            return inner
        name = self.expect("word")
        if self.keyword("NOT"):
            self.expect("word", "IN")
            return Comparison(name, "NOT IN", self.value_list())
        if self.keyword("IN"):
            return Comparison(name, "IN", self.value_list())
        op = self.expect("op")
        if op not in ("=", "!=", "<>", "<", "<=", ">", ">="):
            raise SoqlError("MALFORMED_QUERY", f"unexpected {op!r} after {name}")
        return Comparison(name, "!=" if op == "<>" else op, self.literal())

    def value_list(self) -> list[Any]:
        self.expect("op", "(")
        values = [self.literal()]
        while self.peek() == ("op", ","):
            self.at += 1
            values.append(self.literal())
        self.expect("op", ")")
        return values

    def literal(self) -> Any:
        token = self.peek()
        if token is None:
            raise SoqlError("MALFORMED_QUERY", "expected a value, found the end of the query")
        self.at += 1
        kind, text = token
        if kind == "string":
            return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1])
        if kind == "datetime":
            return parse_datetime_literal(text)
        if kind == "date":
            return date.fromisoformat(text)
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "word" and text.lower() in ("null", "true", "false"):
            return {"null": None, "true": True, "false": False}[text.lower()]
        raise SoqlError("MALFORMED_QUERY", f"expected a value, found {text!r}")


def parse_datetime_literal(text: str) -> datetime:
    """A SOQL datetime literal as an aware UTC datetime."""
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif re.search(r"[+-]\d{4}$", text):
        text = f"{text[:-2]}:{text[-2:]}"
    return datetime.fromisoformat(text).astimezone(UTC)


def parse(text: str) -> Query:
    """Parse one SELECT.

    Raises:
        SoqlError: the query is outside the subset, or malformed.
    """
    return _Parser(text).query()


def resolve(query: Query, known: Sequence[str]) -> Query:
    """The query with every field name spelled as the object spells it.

    Raises:
        SoqlError: INVALID_FIELD naming the first field the object does not have.
    """
    by_lower = {name.lower(): name for name in known}

    def name(text: str) -> str:
        found = by_lower.get(text.lower())
        if found is None:
            raise SoqlError("INVALID_FIELD", f"No such column '{text}' on entity "
                            f"'{query.sobject}'. If you are attempting to use a custom field, "
                            "be sure to append the '__c' after the custom field name.")
        return found

    def walk(node: Comparison | BoolOp | None) -> Comparison | BoolOp | None:
        if node is None:
            return None
        if isinstance(node, Comparison):
            return Comparison(name(node.field), node.op, node.value)
        return BoolOp(node.op, [walk(p) for p in node.parts])

    return Query(fields=[name(f) for f in query.fields], sobject=query.sobject,
                 where=walk(query.where), order_by=[(name(f), d) for f, d in query.order_by],
                 limit=query.limit, count_only=query.count_only)


def _comparable(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def matches(node: Comparison | BoolOp | None, row: Row) -> bool:
    """Whether a row satisfies a resolved condition (None matches everything)."""
    if node is None:
        return True
    if isinstance(node, BoolOp):
        if node.op == "AND":
            return all(matches(p, row) for p in node.parts)
        if node.op == "OR":
            return any(matches(p, row) for p in node.parts)
        return not matches(node.parts[0], row)
    value = _comparable(row.get(node.field))
    target = _comparable(node.value)
    if node.op == "IN":
        return value in node.value
    if node.op == "NOT IN":
        return value not in node.value
    if node.op == "=":
        return bool(value == target)
    if node.op == "!=":
        return bool(value != target)
    if value is None or target is None:
        return False
    try:
        if node.op == "<":
            return bool(value < target)
        if node.op == "<=":
            return bool(value <= target)
        if node.op == ">":
            return bool(value > target)
        return bool(value >= target)
    except TypeError:
        return False  # a malformed stored value never matches a range


def lower_bound(node: Comparison | BoolOp | None, field_name: str) -> datetime | None:
    """A ``field >= t`` that every match must satisfy (through AND / OR), for an indexed read."""
    if isinstance(node, Comparison) and node.field == field_name and node.op in (">=", ">"):
        return node.value if isinstance(node.value, datetime) else None
    if isinstance(node, BoolOp) and node.op == "AND":
        bounds = [b for p in node.parts if (b := lower_bound(p, field_name)) is not None]
        return max(bounds) if bounds else None
    if isinstance(node, BoolOp) and node.op == "OR":
        either = [lower_bound(p, field_name) for p in node.parts]
        return None if any(b is None for b in either) else min(b for b in either if b)
    if isinstance(node, Comparison) and node.field == field_name and node.op == "=":
        return node.value if isinstance(node.value, datetime) else None
    return None


def required_values(node: Comparison | BoolOp | None, field_name: str) -> list[Any] | None:
    """The values ``field`` must take in every match (``field IN (...)`` or ``field = v``,
    through AND), for a read by key; None when the condition does not pin them."""
    if isinstance(node, Comparison) and node.field == field_name:
        if node.op == "IN":
            return list(node.value)
        if node.op == "=":
            return [node.value]
        return None
    if isinstance(node, BoolOp) and node.op == "AND":
        pinned = [v for p in node.parts if (v := required_values(p, field_name)) is not None]
        if not pinned:
            return None
        common = pinned[0]
        for values in pinned[1:]:
            common = [v for v in common if v in values]
        return common
    return None


def order(rows: list[dict[str, Any]], order_by: Sequence[tuple[str, bool]]) -> None:
    """Sort rows in place as ORDER BY says; nulls first ascending, as in SOQL."""
    for name, descending in reversed(order_by):
        rows.sort(key=lambda r, n=name: (r.get(n) is not None, _comparable(r.get(n))),  # type: ignore[misc]
                  reverse=descending)
