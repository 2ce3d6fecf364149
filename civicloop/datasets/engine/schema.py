"""A dataset's declared schema, modelled on Frictionless Table Schema.

Fields have a type, an optional format (dates: strptime patterns such as `%m/%d/%Y`), and
constraints (required, enum, minimum, maximum). The schema also names missing-value markers,
the primary key, and cross-field rules such as `closed_at >= opened_at`. It round-trips to the
Table Schema JSON descriptor, with civicloop's extras under `civicloop:rules`.

Pure Python: no Django, so the engine and the benchmarks can use it alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_ ./()-]{0,62}$")


class SchemaError(ValueError):
    """The schema descriptor is not usable; the message names the field and the fix."""


class FieldType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    YEARMONTH = "yearmonth"
    YEAR = "year"


class RuleOp(StrEnum):
    GE = ">="
    GT = ">"
    LE = "<="
    LT = "<"
    EQ = "="
    NE = "!="


DEFAULT_FORMATS = {
    FieldType.DATE: "%Y-%m-%d",
    FieldType.DATETIME: "%Y-%m-%dT%H:%M:%S",
    FieldType.YEARMONTH: "%Y-%m",
}
DEFAULT_TRUE = ("true", "yes", "y", "1", "t")
DEFAULT_FALSE = ("false", "no", "n", "0", "f")

# strptime codes in plain words, for messages a person can act on.
FORMAT_WORDS = {
    "%Y": "YYYY",
    "%y": "YY",
    "%m": "MM",
    "%d": "DD",
    "%H": "hh",
    "%I": "hh",
    "%M": "mm",
    "%S": "ss",
    "%f": "ffffff",
    "%p": "AM/PM",
    "%b": "Mon",
    "%B": "Month",
    "%z": "+hhmm",
    "%j": "DDD",
    "%a": "Day",
    "%A": "Weekday",
    "%-m": "M",
    "%-d": "D",
}


def format_in_words(pattern: str) -> str:
    """`%d/%m/%Y` -> `DD/MM/YYYY`; `%Y-%m-%dT%H:%M:%S` -> `YYYY-MM-DDThh:mm:ss`."""
    return re.sub(r"%-?[A-Za-z]", lambda m: FORMAT_WORDS.get(m.group(0), m.group(0)), pattern)


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType = FieldType.STRING
    format: str | None = None
    title: str = ""
    description: str = ""
    required: bool = False
    enum: tuple[str, ...] | None = None
    minimum: float | str | None = None
    maximum: float | str | None = None
    true_values: tuple[str, ...] = DEFAULT_TRUE
    false_values: tuple[str, ...] = DEFAULT_FALSE
    decimal_char: str = "."
    group_char: str = ""

    @property
    def pattern(self) -> str:
        """The strptime pattern for temporal fields."""
        return self.format or DEFAULT_FORMATS.get(self.type, "")

    @property
    def column(self) -> str:
        """The warehouse column name: lower snake case, safe to quote."""
        return column_name(self.name)


@dataclass(frozen=True)
class Rule:
    """A comparison between two fields that every row must satisfy (when both are present)."""

    left: str
    op: RuleOp
    right: str
    message: str = ""

    def describe(self) -> str:
        return self.message or f"{self.left} {self.op.value} {self.right}"


@dataclass(frozen=True)
class TableSchema:
    fields: tuple[Field, ...]
    primary_key: tuple[str, ...] = ()
    missing_values: tuple[str, ...] = ("",)
    rules: tuple[Rule, ...] = ()

    def field(self, name: str) -> Field:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    def to_descriptor(self) -> dict[str, Any]:
        return schema_to_descriptor(self)


def column_name(name: str) -> str:
    """Header text -> a warehouse column: `CLOSED AT (UTC)` -> `closed_at_utc`."""
    cleaned = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip()).strip("_").lower()
    if not cleaned:
        cleaned = "column"
    if cleaned[0].isdigit():
        cleaned = "c_" + cleaned
    return cleaned[:63]


# --- descriptor (JSON) round trip ---------------------------------------------------------


def schema_from_descriptor(descriptor: Mapping[str, Any]) -> TableSchema:
    """Read a Table Schema descriptor; every problem names where it is."""
    if not isinstance(descriptor, Mapping):
        raise SchemaError("The schema must be a JSON object with a 'fields' list.")
    raw_fields = descriptor.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise SchemaError("The schema needs a non-empty 'fields' list.")
    fields = tuple(_field_from_descriptor(i, raw) for i, raw in enumerate(raw_fields, start=1))
    names = [f.name for f in fields]
    _check_unique(names)
    primary_key = _as_names(descriptor.get("primaryKey", ()), "primaryKey")
    for name in primary_key:
        if name not in names:
            raise SchemaError(f"primaryKey names {name!r}, which is not a field.")
    missing = descriptor.get("missingValues", [""])
    if not isinstance(missing, list) or not all(isinstance(v, str) for v in missing):
        raise SchemaError('missingValues must be a list of strings, e.g. ["", "NA"].')
    rules = tuple(
        _rule_from_descriptor(i, raw, names)
        for i, raw in enumerate(descriptor.get("civicloop:rules", []), start=1)
    )
    return TableSchema(fields, tuple(primary_key), tuple(missing), rules)


def _check_unique(names: Sequence[str]) -> None:
    seen: set[str] = set()
    columns: dict[str, str] = {}
    for name in names:
        if name in seen:
            raise SchemaError(f"Field {name!r} is declared twice.")
        seen.add(name)
        column = column_name(name)
        if column in columns:
            raise SchemaError(
                f"Fields {columns[column]!r} and {name!r} would both be stored as column "
                f"{column!r}; rename one."
            )
        columns[column] = name


def _as_names(value: Any, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    raise SchemaError(f"{where} must be a field name or a list of field names.")


def _field_from_descriptor(position: int, raw: Any) -> Field:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        raise SchemaError(f"Field {position} needs a 'name' (text).")
    name = raw["name"]
    where = f"Field {name!r}"
    if not name.strip():
        raise SchemaError(f"Field {position} has an empty name.")
    type_name = raw.get("type", "string")
    try:
        field_type = FieldType(type_name)
    except ValueError:
        known = ", ".join(t.value for t in FieldType)
        raise SchemaError(f"{where} has type {type_name!r}; use one of: {known}.") from None
    fmt = raw.get("format")
    if fmt in ("default", "any", None):
        fmt = None
    elif not isinstance(fmt, str):
        raise SchemaError(f"{where}: format must be text such as '%m/%d/%Y'.")
    if fmt and field_type in DEFAULT_FORMATS and "%" not in fmt:
        raise SchemaError(
            f"{where}: format {fmt!r} has no % codes. Write dates as strptime patterns, "
            "e.g. '%m/%d/%Y' for 12/31/2024 or '%Y / %m' for 2024 / 12."
        )
    constraints = raw.get("constraints", {}) or {}
    if not isinstance(constraints, Mapping):
        raise SchemaError(f"{where}: constraints must be an object.")
    enum = constraints.get("enum")
    if enum is not None and (not isinstance(enum, list) or not enum):
        raise SchemaError(f"{where}: constraints.enum must be a non-empty list.")
    return Field(
        name=name,
        type=field_type,
        format=fmt,
        title=str(raw.get("title", "")),
        description=str(raw.get("description", "")),
        required=bool(constraints.get("required", False)),
        enum=tuple(str(v) for v in enum) if enum is not None else None,
        minimum=_bound(constraints.get("minimum"), where, "minimum"),
        maximum=_bound(constraints.get("maximum"), where, "maximum"),
        true_values=tuple(raw.get("trueValues", DEFAULT_TRUE)),
        false_values=tuple(raw.get("falseValues", DEFAULT_FALSE)),
        decimal_char=str(raw.get("decimalChar", ".")),
        group_char=str(raw.get("groupChar", "")),
    )


def _bound(value: Any, where: str, which: str) -> float | str | None:
    if value is None or isinstance(value, int | float | str):
        return value
    raise SchemaError(f"{where}: constraints.{which} must be a number or a date.")


def _rule_from_descriptor(position: int, raw: Any, names: Sequence[str]) -> Rule:
    if isinstance(raw, str):
        match = re.fullmatch(r"\s*(.+?)\s*(>=|<=|!=|=|>|<)\s*(.+?)\s*", raw)
        if not match:
            raise SchemaError(
                f"Rule {position} {raw!r} is not 'field OP field' (OP one of >= > <= < = !=)."
            )
        left, op, right = match.groups()
        message = ""
    elif isinstance(raw, Mapping):
        left, op, right = raw.get("left"), raw.get("op"), raw.get("right")
        message = str(raw.get("message", ""))
    else:
        raise SchemaError(f"Rule {position} must be text like 'closed_at >= opened_at'.")
    for side in (left, right):
        if side not in names:
            raise SchemaError(f"Rule {position} names {side!r}, which is not a field.")
    try:
        rule_op = RuleOp(op)
    except ValueError:
        raise SchemaError(f"Rule {position} uses {op!r}; use >=, >, <=, <, = or !=.") from None
    return Rule(str(left), rule_op, str(right), message)


def schema_to_descriptor(schema: TableSchema) -> dict[str, Any]:
    fields = []
    for f in schema.fields:
        entry: dict[str, Any] = {"name": f.name, "type": f.type.value}
        if f.format:
            entry["format"] = f.format
        if f.title:
            entry["title"] = f.title
        if f.description:
            entry["description"] = f.description
        constraints: dict[str, Any] = {}
        if f.required:
            constraints["required"] = True
        if f.enum is not None:
            constraints["enum"] = list(f.enum)
        if f.minimum is not None:
            constraints["minimum"] = f.minimum
        if f.maximum is not None:
            constraints["maximum"] = f.maximum
        if constraints:
            entry["constraints"] = constraints
        if f.type == FieldType.BOOLEAN:
            entry["trueValues"] = list(f.true_values)
            entry["falseValues"] = list(f.false_values)
        if f.decimal_char != ".":
            entry["decimalChar"] = f.decimal_char
        if f.group_char:
            entry["groupChar"] = f.group_char
        fields.append(entry)
    descriptor: dict[str, Any] = {"fields": fields, "missingValues": list(schema.missing_values)}
    if schema.primary_key:
        descriptor["primaryKey"] = list(schema.primary_key)
    if schema.rules:
        descriptor["civicloop:rules"] = [
            {
                "left": r.left,
                "op": r.op.value,
                "right": r.right,
                **({"message": r.message} if r.message else {}),
            }
            for r in schema.rules
        ]
    return descriptor


def schema_from_arrow(table: Any) -> TableSchema:
    """A schema describing an already-typed pyarrow Table (the demo city's, for example)."""
    import pyarrow as pa

    def field_type(arrow_type: Any) -> FieldType:
        if pa.types.is_boolean(arrow_type):
            return FieldType.BOOLEAN
        if pa.types.is_integer(arrow_type):
            return FieldType.INTEGER
        if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
            return FieldType.NUMBER
        if pa.types.is_date(arrow_type):
            return FieldType.DATE
        if pa.types.is_timestamp(arrow_type):
            return FieldType.DATETIME
        return FieldType.STRING

    fields = tuple(
        Field(name=f.name, type=field_type(f.type), required=table.column(f.name).null_count == 0)
        for f in table.schema
    )
    return TableSchema(fields)
