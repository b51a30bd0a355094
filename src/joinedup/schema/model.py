"""Dataset schemas: Frictionless Table Schema, extended with UK types and personal data.

A schema is loaded from YAML or JSON with :func:`load_schema`. Anything wrong
with it is reported as one line naming the file and the field path, e.g.
``people.yaml: fields[3].type: 'nhs' is not a type (did you mean 'nhs_number'?)``.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from joinedup.errors import SchemaError
from joinedup.schema.table_schema import NAMESPACE, native_field, parse_formatted
from joinedup.standards import UK_TYPES

#: Table Schema types joinedup validates (others, e.g. geopoint, are refused clearly).
TABLE_SCHEMA_TYPES = ("string", "integer", "number", "boolean", "date", "datetime", "year", "any")
TYPES = TABLE_SCHEMA_TYPES + tuple(UK_TYPES)
STRING_FORMATS = ("default", "person_name", "email", "uri", "uuid")

#: Categories of personal data. The second group is special category data
#: (UK GDPR Art. 9) and criminal offence data (Art. 10), which need an extra condition.
ORDINARY_CATEGORIES = (
    "identifier", "name", "date_of_birth", "address", "contact", "demographic",
    "financial", "location", "online_identifier", "other",
)  # fmt: skip
SPECIAL_CATEGORIES = (
    "racial_or_ethnic_origin", "political_opinions", "religious_or_philosophical_beliefs",
    "trade_union_membership", "genetic", "biometric", "health",
    "sex_life_or_sexual_orientation", "criminal_offence",
)  # fmt: skip
CATEGORIES = ORDINARY_CATEGORIES + SPECIAL_CATEGORIES

_FIELD_KEYS = {
    "name", "type", "format", "title", "description", "example", "rdfType", "constraints",
    "personal", "category", "trueValues", "falseValues", "decimalChar", "groupChar", "bareNumber",
    "timezone",
}  # fmt: skip
_CONSTRAINT_KEYS = {"required", "unique", "pattern", "enum", "minimum", "maximum", "minLength", "maxLength"}
_SCHEMA_KEYS = {
    "fields", "primaryKey", "missingValues", "headerRow", "deletionFlag", "name", "title", "description", "$schema",
    "quality", "joinedup:quality",
}  # fmt: skip
_ORDERED_TYPES = {"integer", "number", "date", "datetime", "year"}
_UNFIT_EXTENSION = (
    "does not fit here: joinedup:type names a UK type on a string field, joinedup:format "
    "is person_name on a string field, and personal or category are given once"
)


@dataclass(frozen=True)
class Constraints:
    required: bool = False
    unique: bool = False
    pattern: str | None = None
    enum: tuple[Any, ...] | None = None
    minimum: Any = None
    maximum: Any = None
    min_length: int | None = None
    max_length: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.required:
            data["required"] = True
        if self.unique:
            data["unique"] = True
        for key, value in (
            ("pattern", self.pattern),
            ("enum", list(self.enum) if self.enum is not None else None),
            ("minimum", self.minimum),
            ("maximum", self.maximum),
            ("minLength", self.min_length),
            ("maxLength", self.max_length),
        ):
            if value is not None:
                data[key] = value
        return data


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "string"
    format: str = "default"
    title: str | None = None
    description: str | None = None
    constraints: Constraints = field(default_factory=Constraints)
    personal: bool = False
    category: str | None = None
    true_values: tuple[str, ...] = ("true", "True", "TRUE", "1", "yes", "Yes", "Y", "y")
    false_values: tuple[str, ...] = ("false", "False", "FALSE", "0", "no", "No", "N", "n")
    decimal_char: str = "."
    group_char: str | None = None
    bare_number: bool = True
    #: IANA time zone of datetime values written without a UTC offset (e.g. Europe/London).
    timezone: str | None = None

    @property
    def is_uk_type(self) -> bool:
        return self.type in UK_TYPES

    @property
    def pattern_without_offset(self) -> bool:
        """A datetime read with a strptime pattern that has no %z or %Z: its values are all local times."""
        return (
            self.type == "datetime" and self.format != "default" and "%z" not in self.format and "%Z" not in self.format
        )

    @property
    def special_category(self) -> bool:
        return self.category in SPECIAL_CATEGORIES

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.format != "default":
            data["format"] = self.format
        if self.title:
            data["title"] = self.title
        if self.description:
            data["description"] = self.description
        constraints = self.constraints.to_dict()
        if constraints:
            data["constraints"] = constraints
        if self.personal:
            data["personal"] = True
        if self.category:
            data["category"] = self.category
        default = Field(name=self.name)
        if self.type == "boolean":
            if self.true_values != default.true_values:
                data["trueValues"] = list(self.true_values)
            if self.false_values != default.false_values:
                data["falseValues"] = list(self.false_values)
        if self.type in ("number", "integer"):
            if self.decimal_char != ".":
                data["decimalChar"] = self.decimal_char
            if self.group_char:
                data["groupChar"] = self.group_char
            if not self.bare_number:
                data["bareNumber"] = False
        if self.timezone:
            data["timezone"] = self.timezone
        return data


@dataclass(frozen=True)
class Schema:
    fields: tuple[Field, ...]
    primary_key: tuple[str, ...] = ()
    missing_values: tuple[str, ...] = ("",)
    title: str | None = None
    description: str | None = None
    #: The 1-based row of a CSV or Excel file that names the columns (exports often
    #: carry a title or notes above it).
    header_row: int = 1
    #: A boolean field whose true value, in an upsert, deletes the row with that primary key.
    deletion_flag: str | None = None
    #: The dataset's quality rules (``quality:``), kept as written; joinedup.quality checks them
    #: before an ingest reads any data (docs/quality.md).
    quality: Any = field(default=None, hash=False)

    def field(self, name: str) -> Field:
        for item in self.fields:
            if item.name == name:
                return item
        raise SchemaError(f"schema has no field {name!r}")

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def personal_fields(self) -> list[Field]:
        return [f for f in self.fields if f.personal]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.title:
            data["title"] = self.title
        if self.description:
            data["description"] = self.description
        data["fields"] = [f.to_dict() for f in self.fields]
        if self.primary_key:
            data["primaryKey"] = list(self.primary_key)
        data["missingValues"] = list(self.missing_values)
        if self.header_row != 1:
            data["headerRow"] = self.header_row
        if self.deletion_flag:
            data["deletionFlag"] = self.deletion_flag
        if self.quality is not None:
            data["quality"] = self.quality
        return data

    def digest(self) -> str:
        """SHA-256 of the canonical JSON form: equal schemas have equal digests."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def with_fields(self, fields: Sequence[Field]) -> Schema:
        return replace(self, fields=tuple(fields))

    @classmethod
    def from_dict(cls, data: Any, source: str = "schema") -> Schema:
        return _SchemaReader(source).schema(data)


def load_schema(path: Path) -> Schema:
    """Read a schema from a ``.yaml``/``.yml`` or ``.json`` file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SchemaError(f"{path}: schema file not found") from None
    except UnicodeDecodeError as exc:
        raise SchemaError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return parse_schema(text, source=str(path), json_only=path.suffix.lower() == ".json")


# libyaml's loader when PyYAML was built with it (its wheels are): the same rules, ten times faster.
def _dates_as_written(value: Any) -> Any:
    """YAML reads an unquoted ``2026-01-01`` as a date; the section is kept as the text written (and stored as JSON)."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_dates_as_written(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _dates_as_written(v) for k, v in value.items()}
    return value


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_schema(text: str, *, source: str = "schema", json_only: bool = False) -> Schema:
    try:
        data = json.loads(text) if json_only else yaml.load(text, Loader=_YAML_LOADER)
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{source}: line {exc.lineno}: not valid JSON: {exc.msg}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SchemaError(f"{source}: {where}not valid YAML: {problem}") from None
    return Schema.from_dict(data, source)


def dump_schema(schema: Schema, fmt: str = "yaml") -> str:
    return dump_descriptor(schema.to_dict(), fmt)


def dump_descriptor(data: dict[str, Any], fmt: str = "yaml") -> str:
    """A schema descriptor (joinedup's form or plain Table Schema) as YAML or JSON text."""
    if fmt == "json":
        return json.dumps(data, indent=2, default=str) + "\n"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None)


def _duckdb_refuses(sql: str, value: str) -> str | None:
    """DuckDB's complaint when it runs ``sql`` with ``value``, or None when it accepts it."""
    import duckdb

    cursor = _checker().cursor()  # its own connection to the shared in-memory database: safe across threads
    try:
        cursor.execute(sql, [value]).fetchall()
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()[0]
        return message.split(": ", 1)[-1] if message.startswith("Invalid Input Error") else message
    finally:
        cursor.close()
    return None


@functools.cache
def _checker() -> Any:
    import duckdb

    return duckdb.connect()


class _SchemaReader:
    """Turns a parsed document into a :class:`Schema`, failing on the first problem."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> SchemaError:
        return SchemaError(f"{self.source}: {where}: {message}" if where else f"{self.source}: {message}")

    def schema(self, data: Any) -> Schema:
        if not isinstance(data, Mapping):
            raise self.fail("", "expected a mapping with a 'fields' list")
        self.known_keys(data, _SCHEMA_KEYS, "")
        fields_data = data.get("fields")
        if not isinstance(fields_data, list) or not fields_data:
            raise self.fail("fields", "expected a non-empty list of fields")
        fields = [self.field(item, f"fields[{i}]") for i, item in enumerate(fields_data)]
        names = [f.name for f in fields]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise self.fail(f"fields[{i}].name", f"{name!r} is used by more than one field")
            # SQL (DuckDB) and Delta Lake column names ignore case: two such fields cannot both be stored.
            same = [other for other in names[:i] if other.lower() == name.lower()]
            if same:
                raise self.fail(
                    f"fields[{i}].name", f"{name!r} differs from {same[0]!r} only in case; column names ignore case"
                )
        primary_key = data.get("primaryKey", [])
        if isinstance(primary_key, str):
            primary_key = [primary_key]
        if not isinstance(primary_key, list) or not all(isinstance(k, str) for k in primary_key):
            raise self.fail("primaryKey", "expected a field name or a list of field names")
        for key in primary_key:
            if key not in names:
                raise self.fail("primaryKey", f"{key!r} is not a field{self.suggest(key, names)}")
        missing = data.get("missingValues", [""])
        if not isinstance(missing, list) or not all(isinstance(m, str) for m in missing):
            raise self.fail("missingValues", "expected a list of strings")
        header_row = data.get("headerRow", 1)
        if isinstance(header_row, bool) or not isinstance(header_row, int) or header_row < 1:
            raise self.fail("headerRow", f"expected a row number (1 or more), not {header_row!r}")
        return Schema(
            fields=tuple(fields),
            primary_key=tuple(primary_key),
            missing_values=tuple(missing),
            header_row=header_row,
            title=self.optional_str(data, "title", ""),
            description=self.optional_str(data, "description", ""),
            deletion_flag=self.deletion_flag(data, fields, primary_key),
            quality=self.quality(data),
        )

    def quality(self, data: Mapping[str, Any]) -> Any:
        # A plain Table Schema export carries the section namespaced (see to_table_schema).
        section = data.get("quality", data.get(f"{NAMESPACE}quality"))
        if section is not None and not isinstance(section, list | Mapping):
            raise self.fail("quality", "expected a list of rules or a mapping with 'rules' (see docs/quality.md)")
        return _dates_as_written(section)

    def deletion_flag(self, data: Mapping[str, Any], fields: list[Field], primary_key: list[str]) -> str | None:
        flag = self.optional_str(data, "deletionFlag", "")
        if flag is None:
            return None
        found = next((f for f in fields if f.name == flag), None)
        if found is None:
            raise self.fail("deletionFlag", f"{flag!r} is not a field{self.suggest(flag, [f.name for f in fields])}")
        if found.type != "boolean":
            raise self.fail("deletionFlag", f"{flag!r} must be a boolean field, not {found.type!r}")
        if not primary_key or flag in primary_key:
            raise self.fail("deletionFlag", "needs a primaryKey that does not include the flag: deletions are by key")
        return flag

    def field(self, data: Any, where: str) -> Field:
        if not isinstance(data, Mapping):
            raise self.fail(where, "expected a mapping with 'name' and 'type'")
        data = native_field(data)
        for key in data:
            if isinstance(key, str) and key.startswith(NAMESPACE):
                raise self.fail(f"{where}.{key}", _UNFIT_EXTENSION)
        self.known_keys(data, _FIELD_KEYS, where)
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise self.fail(f"{where}.name", "expected a non-empty string")
        if name.startswith("_"):
            raise self.fail(f"{where}.name", f"{name!r}: names starting with '_' are kept for joinedup's own columns")
        type_ = data.get("type", "string")
        if type_ not in TYPES:
            raise self.fail(
                f"{where}.type",
                f"{type_!r} is not a supported type{self.suggest(str(type_), TYPES)} (types: {', '.join(TYPES)})",
            )
        fmt = data.get("format", "default")
        fmt = self.format(type_, fmt, f"{where}.format")
        category = data.get("category")
        if category is not None and category not in CATEGORIES:
            raise self.fail(
                f"{where}.category",
                f"{category!r} is not a category{self.suggest(str(category), CATEGORIES)} "
                f"(categories: {', '.join(CATEGORIES)})",
            )
        personal = data.get("personal", category is not None)
        if not isinstance(personal, bool):
            raise self.fail(f"{where}.personal", "expected true or false")
        if category is not None and not personal:
            raise self.fail(f"{where}.personal", f"is false but the field has personal data category {category!r}")
        result = Field(
            name=name,
            type=type_,
            format=fmt,
            title=self.optional_str(data, "title", where),
            description=self.optional_str(data, "description", where),
            personal=personal,
            category=category,
            true_values=self.str_list(data, "trueValues", where, Field.true_values),
            false_values=self.str_list(data, "falseValues", where, Field.false_values),
            decimal_char=self.optional_str(data, "decimalChar", where) or ".",
            group_char=self.optional_str(data, "groupChar", where),
            bare_number=bool(data.get("bareNumber", True)),
            timezone=self.timezone(data.get("timezone"), type_, fmt, f"{where}.timezone"),
        )
        constraints = data.get("constraints", {})
        return replace(result, constraints=self.constraints(constraints, result, f"{where}.constraints"))

    def format(self, type_: str, fmt: Any, where: str) -> str:
        if not isinstance(fmt, str):
            raise self.fail(where, "expected a string")
        if fmt == "any":
            raise self.fail(
                where,
                "'any' is not supported: joinedup never guesses day and month; declare the pattern, e.g. '%d/%m/%Y'",
            )
        if type_ in ("date", "datetime"):
            if fmt != "default" and "%" not in fmt:
                raise self.fail(
                    where, f"{fmt!r}: expected 'default' (ISO 8601) or a strptime pattern such as '%d/%m/%Y'"
                )
            if fmt != "default":
                # Ingest parses with DuckDB's strptime, so DuckDB decides what a valid pattern is.
                problem = _duckdb_refuses("SELECT try_strptime('2001-02-03', ?)", fmt)
                if problem:
                    raise self.fail(where, f"{fmt!r} is not a valid pattern: {problem}")
            return fmt
        if type_ == "string":
            if fmt not in STRING_FORMATS:
                raise self.fail(where, f"{fmt!r} is not a string format (formats: {', '.join(STRING_FORMATS)})")
            return fmt
        if fmt != "default":
            raise self.fail(where, f"type {type_!r} takes no format")
        return fmt

    def timezone(self, zone: Any, type_: str, fmt: str, where: str) -> str | None:
        if zone is None:
            if Field(name="", type=type_, format=fmt).pattern_without_offset:
                raise self.fail(
                    where,
                    f"values written {fmt!r} carry no UTC offset: declare their "
                    "time zone, e.g. 'timezone: Europe/London' or 'timezone: UTC'",
                )
            return None
        if type_ != "datetime":
            raise self.fail(where, f"only applies to datetime fields, not {type_!r}")
        if not isinstance(zone, str):
            raise self.fail(where, "expected an IANA time zone name such as Europe/London")
        # Abbreviations mislead (BST is Bangladesh to the time zone database, GMT ignores summer time).
        if (zone != "UTC" and "/" not in zone) or _duckdb_refuses("SELECT timezone(?, TIMESTAMP '2000-01-01')", zone):
            raise self.fail(
                where,
                f"{zone!r} is not a time zone name: expected an IANA name "
                "such as Europe/London (GMT in winter, BST in summer) or UTC",
            )
        return zone

    def constraints(self, data: Any, fld: Field, where: str) -> Constraints:
        if not isinstance(data, Mapping):
            raise self.fail(where, "expected a mapping")
        self.known_keys(data, _CONSTRAINT_KEYS, where)
        for flag in ("required", "unique"):
            if flag in data and not isinstance(data[flag], bool):
                raise self.fail(f"{where}.{flag}", "expected true or false")
        pattern = data.get("pattern")
        if pattern is not None:
            if not isinstance(pattern, str):
                raise self.fail(f"{where}.pattern", "expected a regular expression string")
            # Ingest matches with DuckDB's RE2, which refuses some things Python's re accepts (look-behind).
            problem = _duckdb_refuses("SELECT regexp_full_match('', ?)", pattern)
            if problem:
                raise self.fail(f"{where}.pattern", f"not a valid regular expression: {problem}")
        enum = data.get("enum")
        if enum is not None and (not isinstance(enum, list) or not enum):
            raise self.fail(f"{where}.enum", "expected a non-empty list")
        if enum is not None and fld.type in ("integer", "year", "number"):
            for i, item in enumerate(enum):
                whole = isinstance(item, int) and not isinstance(item, bool)
                if not (whole or (fld.type == "number" and isinstance(item, float) and math.isfinite(item))):
                    kind = "a number" if fld.type == "number" else "a whole number"
                    raise self.fail(
                        f"{where}.enum[{i}]", f"{item!r} is not {kind}, as the field's type {fld.type!r} needs"
                    )
        bounds = {}
        for key in ("minimum", "maximum"):
            if key in data:
                if fld.type not in _ORDERED_TYPES:
                    raise self.fail(
                        f"{where}.{key}",
                        f"only applies to {', '.join(sorted(_ORDERED_TYPES))} fields, not {fld.type!r}",
                    )
                bounds[key] = self.bound(fld, data[key], f"{where}.{key}")
        lengths = {}
        for key in ("minLength", "maxLength"):
            if key in data:
                if not isinstance(data[key], int) or isinstance(data[key], bool) or data[key] < 0:
                    raise self.fail(f"{where}.{key}", "expected a non-negative integer")
                lengths[key] = data[key]
        return Constraints(
            required=bool(data.get("required", False)),
            unique=bool(data.get("unique", False)),
            pattern=pattern,
            enum=tuple(str(v) if fld.type not in ("integer", "year", "number") else v for v in enum) if enum else None,
            minimum=bounds.get("minimum"),
            maximum=bounds.get("maximum"),
            min_length=lengths.get("minLength"),
            max_length=lengths.get("maxLength"),
        )

    def bound(self, fld: Field, value: Any, where: str) -> Any:
        if fld.type in ("integer", "year"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(where, f"expected an integer, got {value!r}")
            return value
        if fld.type == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(where, f"expected a number, got {value!r}")
            if not math.isfinite(value):
                # Ingest writes the bound into SQL, where inf and nan are not numbers but unknown names.
                raise self.fail(where, f"expected a finite number, got {value!r}")
            return value
        # date / datetime bounds are kept ISO 8601 whatever the field's input format.
        text = value.isoformat() if isinstance(value, date | datetime) else value
        if not isinstance(text, str):
            raise self.fail(where, f"expected an ISO 8601 {fld.type}, got {value!r}")
        try:
            parsed = (
                date.fromisoformat(text) if fld.type == "date" else datetime.fromisoformat(text.replace("Z", "+00:00"))
            )
        except ValueError:
            # Table Schema writes a bound in the field's own format (see table_schema.py).
            if fld.format == "default":
                raise self.fail(where, f"expected an ISO 8601 {fld.type}, got {text!r}") from None
            formatted = parse_formatted(text, fld.type, fld.format)
            if formatted is None:
                raise self.fail(
                    where, f"expected an ISO 8601 {fld.type} or one in the form {fld.format}, got {text!r}"
                ) from None
            return formatted
        return parsed.isoformat()

    def known_keys(self, data: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for key in data:
            if key not in allowed:
                place = f"{where}.{key}" if where else str(key)
                raise self.fail(place, f"unknown key{self.suggest(str(key), allowed)}")

    def optional_str(self, data: Mapping[str, Any], key: str, where: str) -> str | None:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(f"{where}.{key}" if where else key, "expected a string")
        return value

    def str_list(self, data: Mapping[str, Any], key: str, where: str, default: tuple[str, ...]) -> tuple[str, ...]:
        if key not in data:
            return default
        value = data[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{where}.{key}", "expected a list of strings")
        return tuple(value)

    @staticmethod
    def suggest(word: str, options: Any) -> str:
        choices = sorted(options)
        close = difflib.get_close_matches(word, choices, n=1) or [
            option for option in choices if word and option.startswith(word.lower())
        ]
        return f" (did you mean {close[0]!r}?)" if close else ""
