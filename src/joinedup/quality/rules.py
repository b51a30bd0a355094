"""Quality rules: what the GDQF issues guidance asks each rule to record, and the checks they make.

A rule is one of a few *checks* (completeness, uniqueness, a SQL boolean
expression, a range, a code list, a regular expression, a UK type, the lag of a
date column behind load time, the freshness of the newest version, agreement
with a reference dataset, agreement with another dataset on a shared key) and is
scored under one of the six GDQF dimensions. Rules come from the schema
(:func:`default_rules`) and from rules files (:func:`parse_rules`); a bad rule
is one line naming the rule and the file, and nothing is registered.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import yaml

from joinedup.errors import SchemaError
from joinedup.estate import check_dataset_name
from joinedup.schema import Schema
from joinedup.standards import UK_TYPES

DIMENSIONS = ("completeness", "uniqueness", "consistency", "timeliness", "validity", "accuracy")
IMPORTANCE = {"high": 3, "medium": 2, "low": 1}
#: Each check and the dimension it is scored under unless the rule says otherwise.
CHECKS = {
    "completeness": "completeness",
    "uniqueness": "uniqueness",
    "expression": "consistency",
    "range": "validity",
    "values": "validity",
    "pattern": "validity",
    "uk_type": "validity",
    "quarantine": "validity",
    "lag": "timeliness",
    "freshness": "timeliness",
    "reference": "accuracy",
    "cross_dataset": "consistency",
}
#: Checks measured with a join to another dataset (their own scan); the rest share one scan of the version.
JOINED = frozenset({"reference", "cross_dataset"})
#: Declared update frequencies and the age (days) a newest version may reach under each.
FREQUENCIES = {"daily": 2, "weekly": 8, "monthly": 32, "quarterly": 93, "annually": 366}
RULE_ID = re.compile(r"[a-z][a-z0-9_.-]{0,99}")
_KEYS = {
    "id", "check", "dimension", "columns", "column", "where", "expression", "minimum", "maximum", "values",
    "pattern", "type", "reference", "max_lag_days", "max_age_days", "purpose", "requirement", "measurement",
    "metric", "target", "importance", "owner",
}  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """One quality rule with its GDQF metadata."""

    id: str
    check: str
    dimension: str
    columns: tuple[str, ...] = ()
    #: Optional row condition (SQL boolean): the rule applies to these rows only.
    where: str | None = None
    expression: str | None = None
    minimum: Any = None
    maximum: Any = None
    values: tuple[Any, ...] | None = None
    pattern: str | None = None
    type: str | None = None
    #: ``dataset.column`` of a reference list (accuracy) or ``dataset`` to compare with (cross_dataset).
    reference: str | None = None
    max_lag_days: int | None = None
    max_age_days: int | None = None
    purpose: str = ""
    requirement: str = ""
    measurement: str = ""
    metric: str = ""
    target: float = 1.0
    importance: str = "medium"
    owner: str | None = None
    #: Where the rule came from: a rules file, or ``default`` (from the schema).
    source: str = "default"

    @property
    def weight(self) -> int:
        return IMPORTANCE[self.importance]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["columns"] = list(self.columns)
        data["values"] = list(self.values) if self.values is not None else None
        return {k: v for k, v in data.items() if v is not None and v != "" and v != []}


@dataclass(frozen=True)
class RuleSet:
    """The rules a rules file declares, and the update frequency it declares for the dataset."""

    rules: tuple[Rule, ...]
    update_frequency: str | None = None
    source: str = ""


def load_rules(path: Path, schema: Schema | None) -> RuleSet:
    """Read and check a rules file (YAML or JSON) against the dataset's schema."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SchemaError(f"{path}: rules file not found") from None
    except UnicodeDecodeError as exc:
        raise SchemaError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise SchemaError(f"{path}: {where}not valid YAML or JSON") from None
    return parse_rules(data, schema, source=path.name)


def parse_rules(data: Any, schema: Schema | None, *, source: str) -> RuleSet:
    if isinstance(data, list):
        data = {"rules": data}
    if not isinstance(data, Mapping) or not isinstance(data.get("rules", []), list):
        raise SchemaError(f"{source}: expected a mapping with a 'rules' list (and optionally update_frequency)")
    unknown = set(data) - {"rules", "update_frequency"}
    if unknown:
        raise SchemaError(f"{source}: unknown key {sorted(unknown)[0]!r} (expected rules, update_frequency)")
    frequency = data.get("update_frequency")
    if frequency is not None and frequency not in FREQUENCIES:
        raise SchemaError(f"{source}: update_frequency {frequency!r}: expected one of {', '.join(FREQUENCIES)}")
    rules = [_rule(item, i, schema, source) for i, item in enumerate(data.get("rules") or [])]
    ids = [r.id for r in rules]
    for i, rule_id in enumerate(ids):
        if rule_id in ids[:i]:
            raise SchemaError(f"{source}: rule {rule_id!r}: the id is used by more than one rule")
    if frequency:
        rules.append(freshness_rule(frequency, source))
    return RuleSet(tuple(rules), frequency, source)


def freshness_rule(frequency: str, source: str = "default") -> Rule:
    days = FREQUENCIES[frequency]
    return Rule(
        id="timeliness.freshness",
        check="freshness",
        dimension="timeliness",
        max_age_days=days,
        purpose=f"the dataset is declared to be updated {frequency}",
        requirement=f"the newest version is at most {days} days old",
        measurement="age of the newest version when measured",
        metric="1 when within the declared frequency, else 0",
        target=1.0,
        importance="medium",
        source=source,
    )


def _as_written(value: Any) -> Any:
    """YAML reads an unquoted ``2026-01-01`` as a date: the rule means the text it was written as."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [_as_written(v) for v in value]
    return value


def _rule(item: Any, index: int, schema: Schema | None, source: str) -> Rule:
    label = f"rules[{index}]"
    if not isinstance(item, Mapping):
        raise SchemaError(f"{source}: {label}: expected a mapping")
    item = {key: _as_written(value) for key, value in item.items()}
    rule_id = item.get("id")
    if not isinstance(rule_id, str) or not RULE_ID.fullmatch(rule_id):
        raise SchemaError(f"{source}: {label}: id: expected lower-case letters, digits, '_', '.' or '-' (at most 100)")

    def fail(message: str) -> SchemaError:
        return SchemaError(f"{source}: rule {rule_id!r}: {message}")

    unknown = set(item) - _KEYS
    if unknown:
        raise fail(f"unknown key {sorted(unknown)[0]!r}")
    check = item.get("check")
    if check not in CHECKS or check == "quarantine":
        options = ", ".join(c for c in CHECKS if c != "quarantine")
        raise fail(f"check {check!r}: expected one of {options}")
    dimension = item.get("dimension", CHECKS[check])
    if dimension not in DIMENSIONS:
        raise fail(f"dimension {dimension!r}: expected one of {', '.join(DIMENSIONS)}")
    target = item.get("target", 1.0)
    if isinstance(target, bool) or not isinstance(target, int | float) or not 0 <= target <= 1:
        raise fail(f"target {target!r}: expected a number from 0 to 1")
    importance = item.get("importance", "medium")
    if importance not in IMPORTANCE:
        raise fail(f"importance {importance!r}: expected high, medium or low")
    columns = item.get("columns", [item["column"]] if "column" in item else [])
    if isinstance(columns, str):
        columns = [columns]
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise fail("columns: expected a list of column names")
    texts = {k: item.get(k) for k in ("where", "expression", "pattern", "type", "reference", "owner")}
    for key, value in texts.items():
        if value is not None and not isinstance(value, str):
            raise fail(f"{key}: expected text")
    values = item.get("values")
    if values is not None and (not isinstance(values, list) or not values):
        raise fail("values: expected a non-empty list")
    if values is not None and not all(isinstance(v, str | int | float) for v in values):
        raise fail("values: expected a list of codes (text or numbers, no lists, mappings or nulls)")
    for key in ("minimum", "maximum"):
        bound = item.get(key)
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, str | int | float)):
            raise fail(f"{key}: expected a number, a date or text")
    rule = Rule(
        id=rule_id,
        check=check,
        dimension=dimension,
        columns=tuple(columns),
        where=texts["where"],
        expression=texts["expression"],
        minimum=item.get("minimum"),
        maximum=item.get("maximum"),
        values=tuple(values) if values is not None else None,
        pattern=texts["pattern"],
        type=texts["type"],
        reference=texts["reference"],
        max_lag_days=_whole(item, "max_lag_days", fail),
        max_age_days=_whole(item, "max_age_days", fail),
        purpose=str(item.get("purpose", "")),
        requirement=str(item.get("requirement", "")),
        measurement=str(item.get("measurement", "")),
        metric=str(item.get("metric", "")),
        target=float(target),
        importance=importance,
        owner=texts["owner"],
        source=source,
    )
    _check_shape(rule, fail)
    if schema is not None:
        check_against_schema(rule, schema, fail)
    return replace(rule, metric=rule.metric or describe_metric(rule))


def _whole(item: Mapping[str, Any], key: str, fail: Any) -> int | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise fail(f"{key}: expected a whole number of days")
    return value


def _check_shape(rule: Rule, fail: Any) -> None:
    """What each check needs besides its columns."""
    needs_columns = rule.check not in ("expression", "freshness", "quarantine")
    if needs_columns and not rule.columns:
        raise fail(f"a {rule.check} rule needs columns")
    single = ("range", "values", "pattern", "uk_type", "lag", "reference")
    if rule.check in single and len(rule.columns) != 1:
        raise fail(f"a {rule.check} rule checks one column (columns: [NAME])")
    if rule.check == "expression" and not rule.expression:
        raise fail("an expression rule needs expression: a SQL boolean over the row")
    if rule.check == "range" and rule.minimum is None and rule.maximum is None:
        raise fail("a range rule needs minimum, maximum or both")
    if rule.check == "values" and rule.values is None:
        raise fail("a values rule needs values: the code list")
    if rule.check == "pattern":
        if not rule.pattern:
            raise fail("a pattern rule needs pattern: a regular expression")
        try:
            duckdb.execute("SELECT regexp_full_match('', ?)", [rule.pattern]).fetchall()
        except duckdb.Error:
            raise fail("pattern: not a valid regular expression") from None
    if rule.check == "uk_type" and rule.type not in UK_TYPES:
        raise fail(f"type {rule.type!r}: expected a UK type ({', '.join(sorted(UK_TYPES))})")
    if rule.check == "lag" and rule.max_lag_days is None:
        raise fail("a lag rule needs max_lag_days")
    if rule.check == "freshness" and rule.max_age_days is None:
        raise fail("a freshness rule needs max_age_days (or declare update_frequency)")
    if rule.check == "reference":
        dataset, _, column = (rule.reference or "").partition(".")
        if not column:
            raise fail("reference: expected DATASET.COLUMN of the reference list")
        _dataset_name(dataset, fail)
    if rule.check == "cross_dataset":
        _dataset_name(rule.reference or "", fail)
        if len(rule.columns) != 2:
            raise fail("a cross_dataset rule has columns [KEY, VALUE]: the same KEY must have the same VALUE there")


def _dataset_name(name: str, fail: Any) -> None:
    try:
        check_dataset_name(name)
    except Exception:
        raise fail(f"reference: {name!r} is not a dataset name") from None


def check_against_schema(rule: Rule, schema: Schema, fail: Any) -> None:
    """Columns exist and fit the check; expressions and conditions are single boolean expressions over the row."""
    names = set(schema.names)
    for column in rule.columns:
        if column not in names:
            raise fail(f"unknown column {column!r} (columns: {', '.join(schema.names)})")
    _check_types(rule, schema, fail)
    for key in ("where", "expression"):
        text = getattr(rule, key)
        if text is not None:
            problem = expression_problem(text, schema)
            if problem:
                raise fail(f"{key}: {problem}")


def _check_types(rule: Rule, schema: Schema, fail: Any) -> None:
    """What the scan would only find out on the data: bounds that are not of the column's type, a lag on non-dates."""
    from joinedup.quality.sql import sql_type

    if rule.check == "lag" and sql_type(schema, rule.columns[0]) not in ("DATE", "TIMESTAMP", "TIMESTAMPTZ"):
        raise fail(
            f"a lag rule needs a date or datetime column; {rule.columns[0]!r} is {schema.field(rule.columns[0]).type}"
        )
    if rule.check != "range":
        return
    typed = sql_type(schema, rule.columns[0])
    for key in ("minimum", "maximum"):
        bound = getattr(rule, key)
        if bound is None:
            continue
        try:
            duckdb.execute(f"SELECT CAST(? AS {typed})", [str(bound)]).fetchall()
        except duckdb.Error:
            raise fail(f"{key} {bound!r} is not a {typed.lower()} like column {rule.columns[0]!r}") from None


def expression_problem(text: str, schema: Schema) -> str | None:
    """Why ``text`` is not a single boolean expression over the schema's columns, or None when it is."""
    try:
        statements = duckdb.extract_statements(f"SELECT ({text}) AS ok")
    except duckdb.Error:
        return "not a valid SQL expression"
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        return "holds more than one statement; expected a single boolean expression"
    con = _checking_connection()
    return _tree_problem(con, text) or _bind_problem(con, text, schema)


_checking = threading.local()


def _checking_connection() -> duckdb.DuckDBPyConnection:
    """This thread's connection for checking expressions, opened once, with no access to files or the network.

    Each measurement checks its registered rules again, and opening a connection costs
    more than parsing and binding an expression does (20 ms against a few).
    """
    con: duckdb.DuckDBPyConnection | None = getattr(_checking, "connection", None)
    if con is None:
        con = duckdb.connect()
        con.execute("SET enable_external_access = false")
        _checking.connection = con
    return con


def _tree_problem(con: duckdb.DuckDBPyConnection, text: str) -> str | None:
    """What the parsed expression holds that a rule may not: a query, a subquery, a window, a volatile function."""
    tree = _parse_tree(con, f"SELECT ({text}) AS ok")
    if tree is None:
        return "not a valid SQL expression"
    # As written too, not only inside the parentheses the scan puts around it: "a = 1) OR (b = 2" is one
    # expression once wrapped, and spliced beside another condition it would change what that one means.
    bare = _parse_tree(con, f"SELECT {text}")
    if bare is None or len(bare["statements"][0]["node"].get("select_list", [])) != 1:
        return "is not a whole expression on its own (unbalanced parentheses?); expected a single boolean expression"
    node = tree["statements"][0]["node"]
    if node.get("from_table", {}).get("type") != "EMPTY" or len(node.get("select_list", [])) != 1:
        return "expected a single boolean expression, not a query"
    if any(word in json.dumps(node) for word in ('"SUBQUERY"', '"WINDOW_')):
        return "may not hold a subquery or a window function; expected a single boolean expression over the row"
    volatile = sorted(_function_names(node) & _volatile_functions())
    if volatile:
        # random(), uuid(), sleep_ms(), nextval() ...: a metric must be the same on the same data (history and
        # drift compare versions), and a rule must not be able to stall or fail the measurement of a version.
        return f"uses {volatile[0]}(), whose result changes from one run to the next; expected a condition on the row"
    return None


def _function_names(node: Any) -> set[str]:
    """Every function the parsed expression calls."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("class") == "FUNCTION" and isinstance(item.get("function_name"), str):
                found.add(item["function_name"].lower())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


@functools.cache
def _volatile_functions() -> frozenset[str]:
    """DuckDB's functions whose result may differ between calls with the same arguments (its own catalogue says)."""
    con = duckdb.connect()
    try:
        query = "SELECT DISTINCT function_name FROM duckdb_functions() WHERE stability = 'VOLATILE'"
        rows = con.execute(query).fetchall()
    finally:
        con.close()
    return frozenset(str(name).lower() for (name,) in rows)


def _parse_tree(con: duckdb.DuckDBPyConnection, sql: str) -> dict[str, Any] | None:
    [(serialised,)] = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchall()
    tree: dict[str, Any] = json.loads(serialised)
    return None if tree.get("error") else tree


def _bind_problem(con: duckdb.DuckDBPyConnection, text: str, schema: Schema) -> str | None:
    """Bind the expression against an empty table of the schema's columns: unknown columns, non-boolean results."""
    from joinedup.quality.sql import empty_relation

    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW t AS {empty_relation(schema)}")
        described = con.execute(f"DESCRIBE SELECT ({text}) AS ok FROM t").fetchall()
        try:
            # The scan measures rules inside FILTER clauses, where an aggregate (count(*), max(x)) cannot go.
            con.execute(f"SELECT count(*) FILTER (WHERE ({text})) FROM t").fetchall()
        except duckdb.Error:
            return "may not use an aggregate function (count, max ...); expected a condition on one row"
    except duckdb.Error as exc:
        first = str(exc).strip().split("\n", 1)[0]
        if "Binder Error" in first or "Catalog Error" in first:
            return f"{first.split(': ', 1)[-1]} (columns: {', '.join(schema.names)})"
        return "not a valid SQL expression over the row"
    if described[0][1] != "BOOLEAN":
        return f"is {described[0][1]}, not a boolean expression (true when the row passes)"
    return None


def describe_metric(rule: Rule) -> str:
    """The metric's wording when the rule does not give one."""
    cols = ", ".join(rule.columns)
    first, last = (rule.columns[0], rule.columns[-1]) if rule.columns else ("", "")
    return {
        "completeness": f"share of rows with {cols} present",
        "uniqueness": f"share of rows whose {cols} is distinct",
        "expression": "share of rows for which the expression holds",
        "range": f"share of {cols} values within range",
        "values": f"share of {cols} values in the code list",
        "pattern": f"share of {cols} values matching the pattern",
        "uk_type": f"share of {cols} values that are valid {rule.type}",
        "quarantine": "share of rows read that passed validation (not quarantined)",
        "lag": f"share of rows loaded within {rule.max_lag_days} days of {cols}",
        "freshness": "1 when the newest version is within the declared frequency",
        "reference": f"share of {cols} values found in {rule.reference}",
        "cross_dataset": f"share of rows whose {last} agrees with {rule.reference} for the same {first}",
    }[rule.check]


def default_rules(schema: Schema) -> list[Rule]:
    """Rules every dataset has without a rules file, from its schema."""
    rules: list[Rule] = []
    for fld in schema.fields:
        if fld.constraints.required or fld.personal:
            required = fld.constraints.required
            rules.append(
                Rule(
                    id=f"completeness.{fld.name}",
                    check="completeness",
                    dimension="completeness",
                    columns=(fld.name,),
                    purpose="required by the schema" if required else "personal data used to find and link people",
                    requirement=f"{fld.name} is present",
                    measurement="non-missing values over all rows",
                    target=1.0 if required else 0.95,
                    importance="high" if required else "medium",
                )
            )
    if schema.primary_key:
        rules.append(_unique(schema.primary_key, "the primary key identifies each row", "high", 1.0))
    for fld in schema.fields:
        identifier = fld.category == "identifier" or fld.type in ("nhs_number", "ni_number")
        if (fld.constraints.unique or identifier) and (fld.name,) != schema.primary_key:
            purpose = "unique by the schema" if fld.constraints.unique else "an identifier should name one record"
            target = 1.0 if fld.constraints.unique else 0.99
            rules.append(_unique((fld.name,), purpose, "medium", target))
    rules.append(
        Rule(
            id="validity.quarantine",
            check="quarantine",
            dimension="validity",
            purpose="rows that break the schema's types and constraints are set aside",
            requirement="rows read pass validation and standardisation",
            measurement="rows quarantined by the ingest of this version over rows it read",
            target=0.99,
            importance="high",
        )
    )
    return [replace(r, metric=r.metric or describe_metric(r)) for r in rules]


def _unique(columns: Sequence[str], purpose: str, importance: str, target: float) -> Rule:
    return Rule(
        id="uniqueness." + "+".join(columns),
        check="uniqueness",
        dimension="uniqueness",
        columns=tuple(columns),
        purpose=purpose,
        requirement=f"no two rows share {', '.join(columns)}",
        measurement="distinct values over rows where present",
        target=target,
        importance=importance,
    )


def rule_from_dict(data: Mapping[str, Any]) -> Rule:
    """A stored rule (its :meth:`Rule.to_dict`) back as a :class:`Rule`."""
    values = dict(data)
    values["columns"] = tuple(values.get("columns", ()))
    if values.get("values") is not None:
        values["values"] = tuple(values["values"])
    return Rule(**values)
