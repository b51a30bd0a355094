"""The validation and standardisation query, built from a schema.

One DuckDB statement does all the set-based work for an ingest: it trims and
normalises missing values, standardises every field to its canonical form,
checks every rule, and collects each failing row's reasons as a list of
``{column, rule, value, message}``. Rows with no reasons are loaded; the others
go to quarantine with every reason. The same statement can keep only the valid
rows (building no reasons at all) or only the rejected ones: the pipeline runs
the first over the file and the second over the rows it did not return.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from joinedup.schema import Field, Schema
from joinedup.standards import STANDARD_TYPES, iso_datetime_in_zone, local_to_utc, trimmed_macro
from joinedup.standards.facts import BLANKS
from joinedup.storage.duck import quote_identifier as ident
from joinedup.storage.duck import quote_literal as lit

# Whitespace trimmed from every value: spaces, tabs, line breaks and the
# no-break space spreadsheets leave behind.
_TRIM = lit(BLANKS)
# Code points that may start or end a value needing a trim: every blank, and harmlessly (the trim then leaves
# the value as it is) the other control characters and everything from the no-break space (160) up. One range
# test evaluates the end character once; "<= 32 OR = 160" evaluated it twice, and finding the last character
# of a string is most of the test's cost.
_EDGE = "NOT BETWEEN 33 AND 159"
assert all(not 33 <= ord(ch) <= 159 for ch in BLANKS)
_INTEGER = r"[+-]?[0-9]+"
_NUMBER = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
_STRING_FORMATS = {
    "email": r"[^@\s]+@[^@\s]+\.[^@\s]+",
    "uri": r"[A-Za-z][A-Za-z0-9+.-]*:\S+",
    "uuid": r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
}
_SQL_TYPES = {
    "string": "VARCHAR",
    "any": "VARCHAR",
    "integer": "BIGINT",
    "year": "INTEGER",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMPTZ",
}


@dataclass(frozen=True)
class Check:
    rule: str
    #: SQL, true when the row fails the rule.
    failed: str
    #: SQL text expression explaining the failure.
    message: str


def expected(field: Field) -> str:
    """What a valid value of this field looks like, for error messages."""
    if field.type in STANDARD_TYPES:
        rule = STANDARD_TYPES[field.type]
        # "an NHS number", "an ONS GSS code", but "a UK postcode", "a UPRN".
        article = "an" if rule.title.startswith(("A", "E", "I", "O", "NHS")) else "a"
        return f"{article} {rule.title}: {rule.expected}"
    if field.type in ("date", "datetime"):
        if field.format != "default":
            return f"a {field.type} in the form {field.format}"
        return (
            "an ISO 8601 date (YYYY-MM-DD)" if field.type == "date" else "an ISO 8601 date-time (YYYY-MM-DDThh:mm:ssZ)"
        )
    if field.type == "string" and field.format in _STRING_FORMATS:
        return f"a valid {field.format}"
    return {
        "integer": "a whole number",
        "year": "a four-digit year",
        "number": "a number",
        "boolean": f"one of {', '.join(field.true_values + field.false_values)}",
    }.get(field.type, f"a {field.type}")


def standardise(field: Field, v: str) -> str:
    """SQL turning the trimmed, missing-normalised text ``v`` into the canonical typed value, NULL when invalid."""
    t = field.type
    if t in STANDARD_TYPES:
        rule = STANDARD_TYPES[t]
        sql = f"{trimmed_macro(t)}({v})"
        return f"CAST({sql} AS {rule.sql_type})" if rule.sql_type != "VARCHAR" else sql
    if t == "any":
        return v
    if t == "string":
        if field.format == "person_name":
            return f"{STANDARD_TYPES['person_name'].macro}({v})"
        if field.format in _STRING_FORMATS:
            return f"CASE WHEN regexp_full_match({v}, {lit(_STRING_FORMATS[field.format])}) THEN {v} END"
        return v
    if t in ("integer", "year", "number"):
        text = v
        if field.group_char:
            text = f"replace({text}, {lit(field.group_char)}, '')"
        if field.decimal_char != ".":
            text = f"replace({text}, {lit(field.decimal_char)}, '.')"
        pattern = _NUMBER if t == "number" else _INTEGER
        if not field.bare_number:
            # Table Schema bareNumber=false: currency signs, % and the like around the number are allowed.
            text = f"regexp_extract({text}, {lit(pattern)})"
        if t == "year":
            return f"CASE WHEN regexp_full_match({text}, '[0-9]{{4}}') THEN CAST({text} AS INTEGER) END"
        cast = f"TRY_CAST({text} AS {_SQL_TYPES[t]})"
        if t == "number":
            cast = f"CASE WHEN isfinite({cast}) THEN {cast} END"
        return f"CASE WHEN regexp_full_match({text}, {lit(pattern)}) THEN {cast} END"
    if t == "boolean":
        trues = ", ".join(lit(x) for x in field.true_values)
        falses = ", ".join(lit(x) for x in field.false_values)
        return f"CASE WHEN {v} IN ({trues}) THEN true WHEN {v} IN ({falses}) THEN false END"
    if t == "date":
        if field.format == "default":
            return f"CAST({trimmed_macro('iso_date')}({v}) AS DATE)"
        return f"CAST({_parsed(v, field.format)} AS DATE)"
    if t == "datetime":
        # Values without an offset are local times in the field's declared zone, or refused.
        if field.format == "default":
            text = (
                iso_datetime_in_zone(v, field.timezone) if field.timezone else f"{trimmed_macro('iso_datetime')}({v})"
            )
            return f"CAST({text} AS TIMESTAMPTZ)"
        parsed = _parsed(v, field.format)
        if field.timezone and field.pattern_without_offset:
            return f"timezone('UTC', {local_to_utc(parsed, field.timezone)})"
        return f"CAST({parsed} AS TIMESTAMPTZ)"
    raise AssertionError(f"unhandled type {t}")


def _parsed(v: str, fmt: str) -> str:
    """SQL reading ``v`` with a strptime format, NULL when it does not fit.

    strptime's ``%Y`` takes a year of any number of digits, so ``25/12/20`` would
    load as the year 20 AD: under ``%Y`` the year must be written in four digits,
    which (as a 1- to 4-digit year is all strptime accepts) means from 1000 on.
    """
    parsed = f"try_strptime({v}, {lit(fmt)})"
    if "%Y" not in fmt:
        return parsed
    return f"CASE WHEN year({parsed}) >= 1000 THEN {parsed} END"


def checks(field: Field, v: str, std: str) -> list[Check]:
    """Every row-level rule of a field, as SQL that is true when the row fails it."""
    c = field.constraints
    found: list[Check] = []
    if c.required:
        found.append(Check("required", f"{v} IS NULL", lit("a value is required")))
    if field.type not in ("string", "any") or field.format in ("email", "uri", "uuid"):
        rule = field.type if field.type != "string" else field.format
        found.append(Check(rule, f"({v} IS NOT NULL AND {std} IS NULL)", _type_message(field, v)))
    if c.enum is not None:
        if field.type in ("integer", "number", "year"):
            options = ", ".join(str(x) for x in c.enum)
            member = f"{std} IN ({options})"
        else:
            options = ", ".join(lit(str(x)) for x in c.enum)
            member = f"CAST({std} AS VARCHAR) IN ({options})"
        shown = ", ".join(str(x) for x in c.enum)
        found.append(Check("enum", f"({std} IS NOT NULL AND NOT ({member}))", lit(f"expected one of {shown}")))
    if c.pattern is not None:
        found.append(
            Check(
                "pattern",
                f"({v} IS NOT NULL AND NOT regexp_full_match({v}, {lit(c.pattern)}))",
                lit(f"does not match the pattern {c.pattern}"),
            )
        )
    for rule, op, bound in (("minimum", "<", c.minimum), ("maximum", ">", c.maximum)):
        if bound is None:
            continue
        value = _bound(field, bound)
        word = (
            "before"
            if field.type in ("date", "datetime") and op == "<"
            else "after"
            if field.type in ("date", "datetime")
            else "below"
            if op == "<"
            else "above"
        )
        found.append(Check(rule, f"({std} {op} {value})", lit(f"is {word} the {rule} {bound}")))
    if c.min_length is not None:
        found.append(
            Check("minLength", f"(length({v}) < {c.min_length})", lit(f"is shorter than {c.min_length} characters"))
        )
    if c.max_length is not None:
        found.append(
            Check("maxLength", f"(length({v}) > {c.max_length})", lit(f"is longer than {c.max_length} characters"))
        )
    return found


def _type_message(field: Field, v: str) -> str:
    """Why a value failed its type: for date-times, a missing offset or a clock change says more than the shape."""
    shape = lit(f"expected {expected(field)}")
    if field.type != "datetime":
        return shape
    if field.format == "default":
        # Read in UTC only to tell a well-formed local time from a malformed value.
        local_time = f"{iso_datetime_in_zone(v, 'UTC')} IS NOT NULL"
    elif field.pattern_without_offset:
        local_time = f"try_strptime({v}, {lit(field.format)}) IS NOT NULL"
    else:
        return shape
    if field.timezone:
        why = (
            f"is not one moment in {field.timezone}: the clocks going forward skip that local time "
            "or going back repeat it; write it with its UTC offset"
        )
    else:
        why = "has no UTC offset (Z or +hh:mm) and the schema declares no timezone for the field, e.g. Europe/London"
    return f"CASE WHEN {local_time} THEN {lit(why)} ELSE {shape} END"


def _bound(field: Field, bound: object) -> str:
    if field.type == "date":
        return f"DATE {lit(str(bound))}"
    if field.type == "datetime":
        return f"TIMESTAMPTZ {lit(str(bound))}"
    return str(bound)


def normalise_missing(raw: str, missing: tuple[str, ...]) -> str:
    # trim() with a character list is slow and most values need no trimming, so the
    # first and last characters are looked at first (ascii() gives a code point).
    # Comparisons, not IN: DuckDB turns an IN list into a join per use.
    edge = " OR ".join(f"ascii({end}) {_EDGE}" for end in (raw, f"{raw}[-1]"))
    trimmed = f"CASE WHEN {edge} THEN trim({raw}, {_TRIM}) ELSE {raw} END"
    if missing == ("",):
        return f"NULLIF({trimmed}, '')"
    if not missing:
        return trimmed
    options = ", ".join(lit(m) for m in missing)
    return f"CASE WHEN {trimmed} IN ({options}) THEN NULL ELSE {trimmed} END"


#: Which rows :func:`build_query` returns.
Rows = Literal["all", "valid", "rejected"]
ROWS: tuple[Rows, ...] = ("all", "valid", "rejected")

#: Name under which the pipeline registers the dataset's current rows (append and upsert check keys against them).
STORED_ROWS = "jd_stored"


def build_query(
    schema: Schema,
    mapping: dict[str, str],
    source: str,
    *,
    mode: str = "replace",
    stored: bool = False,
    rows: Rows = "all",
) -> str:
    """The whole validation query over ``source`` (run :func:`preparation` first).

    ``mapping`` maps each schema field to its raw column in ``source``. With
    ``rows="all"`` the output columns are: ``_source_row``; ``_errors`` (NULL
    for a valid row); the standardised value of each field under the field's
    name; and, only for rows with errors, each field's original text as
    ``_raw_<i>``. ``rows="valid"`` gives only the valid rows, as ``_source_row``
    and the standardised values: no list of errors is built for any row.
    ``rows="rejected"`` gives only the rows with errors, as ``_source_row``,
    ``_errors`` and the ``_raw_<i>`` texts. ``stored`` says the dataset has rows
    (registered as :data:`STORED_ROWS`) that an append or upsert is checked against.
    """
    if rows not in ROWS:
        raise ValueError(f"rows={rows!r}: expected one of {', '.join(ROWS)}")
    fields = list(schema.fields)
    raw = {f.name: ident(mapping[f.name]) for f in fields}
    vs = {f.name: ident(f"_v{i}") for i, f in enumerate(fields)}
    stds = {f.name: ident(f"_s{i}") for i, f in enumerate(fields)}
    row, errors_column = ident("_source_row"), ident("_errors")

    trimmed = ", ".join(f"{normalise_missing(raw[f.name], schema.missing_values)} AS {vs[f.name]}" for f in fields)
    looked_up = _looked_up(schema)
    standardised = ", ".join(f"{standardise(f, vs[f.name])} AS {stds[f.name]}" for f in fields if f not in looked_up)
    failures = [
        (f.name, raw[f.name], check)
        for f in fields
        for check in _mode_checks(schema, f, checks(f, vs[f.name], stds[f.name]), vs[f.name], stds, mode)
    ]
    groups = _unique_groups(schema)
    failures += [
        (", ".join(names), _key_text(names, raw), _duplicate_check(i, rule)) for i, (rule, names) in enumerate(groups)
    ]
    against_stored = stored and mode in ("append", "upsert")
    failures += _stored_checks(schema, raw, stds, mode, against_stored)
    any_failed = " OR ".join(check.failed for *_, check in failures) if failures else "false"
    if failures:
        items = ", ".join(
            f"CASE WHEN {check.failed} THEN [{{'column': {lit(column)}, 'rule': {lit(check.rule)}, "
            f"'value': {value}, 'message': {check.message}}}] ELSE [] END"
            for column, value, check in failures
        )
        # One flatten of a list of lists: twice as fast as list_concat of as many lists.
        errors = f"CASE WHEN {any_failed} THEN flatten([{items}]) END"
    else:
        # "column" is a keyword: a schema without rules must still give a well-formed empty list type.
        fields_sql = ", ".join(f"{ident(name)} VARCHAR" for name in ("column", "rule", "value", "message"))
        errors = f"CAST(NULL AS STRUCT({fields_sql})[])"

    q = ident("q")
    raws = ", ".join(raw[f.name] for f in fields)
    query = f"SELECT {row}, {raws}, {trimmed} FROM {source}"
    for i, f in enumerate(looked_up):
        n = ident(f"n{i}")
        query = (
            f"SELECT {q}.*, {n}.{ident('s')} AS {stds[f.name]} FROM ({query}) {q} "
            f"LEFT JOIN {ident(lookup_table(i))} {n} ON {q}.{raw[f.name]} = {n}.{ident('r')}"
        )
    if standardised:
        query = f"SELECT *, {standardised} FROM ({query})"
    for i, (_, names) in enumerate(groups):
        d = ident(f"d{i}")
        on = " AND ".join(f"{q}.{stds[n]} = {d}.{ident(f'k{j}')}" for j, n in enumerate(names))
        query = (
            f"SELECT {q}.*, {d}.{ident('first')} AS {ident(f'_first{i}')} FROM ({query}) {q} "
            f"LEFT JOIN {ident(duplicates_table(i))} {d} ON {on}"
        )
    if against_stored:
        e = ident("e")
        on = " AND ".join(f"{q}.{stds[n]} = {e}.{ident(f'k{j}')}" for j, n in enumerate(schema.primary_key))
        query = (
            f"SELECT {q}.*, {e}.{ident('_ingest')} AS {ident('_stored_ingest')}, {e}.{row} AS {ident('_stored_row')} "
            f"FROM ({query}) {q} LEFT JOIN {ident(STORED_KEYS)} {e} ON {on}"
        )
    outputs = ", ".join(f"{stds[f.name]} AS {ident(f.name)}" for f in fields)
    if rows == "valid":
        # The same test that decides whether _errors is NULL, so the two kinds of rows partition the input.
        return f"SELECT {row}, {outputs} FROM ({query}) WHERE ({any_failed}) IS NOT TRUE"
    checked = f"SELECT *, {errors} AS {errors_column} FROM ({query})"
    if rows == "rejected":
        texts = ", ".join(f"{raw[f.name]} AS {ident(f'_raw_{i}')}" for i, f in enumerate(fields))
        return f"SELECT {row}, {errors_column}, {texts} FROM ({checked}) WHERE {errors_column} IS NOT NULL"
    kept_raw = ", ".join(
        f"CASE WHEN {errors_column} IS NOT NULL THEN {raw[f.name]} END AS {ident(f'_raw_{i}')}"
        for i, f in enumerate(fields)
    )
    return f"SELECT {row}, {errors_column}, {outputs}, {kept_raw} FROM ({checked})"


def _mode_checks(
    schema: Schema, field: Field, found: list[Check], v: str, stds: dict[str, str], mode: str
) -> list[Check]:
    """A field's checks as the mode needs them.

    Every part of a primary key is required in every mode (Table Schema says so, and
    append and upsert find rows by it): a replace must not load a row no key can name.
    An upsert row flagged for deletion needs only a valid key and flag: its other
    values are never stored.
    """
    if field.name in schema.primary_key and not field.constraints.required:
        found = [Check("required", f"{v} IS NULL", lit("a value is required: it is part of the primary key")), *found]
    flag = schema.deletion_flag
    if mode == "upsert" and flag and field.name != flag and field.name not in schema.primary_key:
        found = [replace(c, failed=f"({c.failed} AND {stds[flag]} IS NOT TRUE)") for c in found]
    return found


def _stored_checks(
    schema: Schema, raw: dict[str, str], stds: dict[str, str], mode: str, against_stored: bool
) -> list[tuple[str, str, Check]]:
    """Rules about a row's place among the rows the dataset already holds, as (column, value, check)."""
    found: list[tuple[str, str, Check]] = []
    if mode == "append" and against_stored:
        message = (
            f"{lit('duplicates the primary key of row ')} || CAST({ident('_stored_row')} AS VARCHAR) || "
            f"{lit(' loaded by version ')} || CAST({ident('_stored_ingest')} AS VARCHAR)"
        )
        check = Check("primaryKey", f"({ident('_stored_ingest')} IS NOT NULL)", message)
        found.append((", ".join(schema.primary_key), _key_text(schema.primary_key, raw), check))
    flag = schema.deletion_flag
    if flag and mode == "upsert":
        absent = f"{ident('_stored_ingest')} IS NULL" if against_stored else "true"
        check = Check(
            "deletionFlag",
            f"({stds[flag]} IS TRUE AND {absent})",
            lit("deletes a primary key the dataset does not hold"),
        )
        found.append((", ".join(schema.primary_key), _key_text(schema.primary_key, raw), check))
    elif flag:
        check = Check(
            "deletionFlag", f"({stds[flag]} IS TRUE)", lit("marks a deletion, which only --mode upsert makes")
        )
        found.append((flag, raw[flag], check))
    return found


def macros_needed(schema: Schema) -> set[str]:
    """The standard types whose ``jd_<type>`` macros :func:`build_query` and :func:`preparation` call."""
    needed = {f.type for f in schema.fields if f.type in STANDARD_TYPES}
    needed |= {"person_name" for f in _looked_up(schema)}
    needed |= {f"iso_{f.type}" for f in schema.fields if f.type in ("date", "datetime") and f.format == "default"}
    needed |= {"iso_datetime" for f in schema.fields if f.timezone}  # its macros convert local times
    return needed


def _unique_groups(schema: Schema) -> list[tuple[str, tuple[str, ...]]]:
    """The primary key and each single-field unique constraint, as (rule, fields)."""
    groups: list[tuple[str, tuple[str, ...]]] = []
    if schema.primary_key:
        groups.append(("primaryKey", schema.primary_key))
    for f in schema.fields:
        if f.constraints.unique and (f.name,) != schema.primary_key:
            groups.append(("unique", (f.name,)))
    return groups


def duplicates_table(i: int) -> str:
    return f"jd_duplicates_{i}"


def lookup_table(i: int) -> str:
    return f"jd_lookup_{i}"


#: The stored rows' primary keys (as ``k0``, ``k1`` ...) and surrogate row keys.
STORED_KEYS = "jd_stored_keys"


def _looked_up(schema: Schema) -> list[Field]:
    # Names repeat (a million people share a few thousand given names) and casing
    # them is the dearest rule, so each distinct name is cased once and joined back.
    return [f for f in schema.fields if f.type == "string" and f.format == "person_name"]


def preparation(
    schema: Schema, mapping: dict[str, str], source: str, *, mode: str = "replace", stored: bool = False
) -> list[str]:
    """Statements to run before :func:`build_query`: lookup tables, repeated keys and stored keys.

    A lookup keeps the NULL it may hold (the join never matches it) for the same
    reason the key tables keep keys with missing parts.
    """
    statements = []
    for i, f in enumerate(_looked_up(schema)):
        # Keyed by the text as read: the million values need no trimming to be grouped,
        # only the few thousand distinct ones do. The trimmed text is a column of its
        # own: the macro repeats its argument, and binding that expression many times over is slow.
        r, v = ident("r"), ident("v")
        statements.append(
            f"CREATE OR REPLACE TABLE {ident(lookup_table(i))} AS "
            f"SELECT {r}, {standardise(f, v)} AS {ident('s')} "
            f"FROM (SELECT {r}, {normalise_missing(r, schema.missing_values)} AS {v} "
            f"FROM (SELECT DISTINCT {ident(mapping[f.name])} AS {r} FROM {source}))"
        )
    statements += duplicate_queries(schema, mapping, source)
    if stored and mode in ("append", "upsert"):
        keys = ", ".join(f"{ident(name)} AS {ident(f'k{j}')}" for j, name in enumerate(schema.primary_key))
        statements.append(
            f"CREATE OR REPLACE TABLE {ident(STORED_KEYS)} AS "
            f"SELECT {keys}, {ident('_ingest')}, {ident('_source_row')} FROM {ident(STORED_ROWS)}"
        )
    return statements


def duplicate_queries(schema: Schema, mapping: dict[str, str], source: str) -> list[str]:
    """One table per key (primary key, unique field) holding the keys that repeat.

    Each holds a repeated key and the first row (in file order) holding it; every
    later row with that key is a duplicate. A grouped pass over the key columns
    alone is far cheaper than a window over whole rows. Keys with a missing part
    stay in (an equality join never matches NULL): filtering them out here would
    let DuckDB push the filter under the grouping and standardise every key twice.
    """
    statements = []
    for i, (_, names) in enumerate(_unique_groups(schema)):
        fields = [schema.field(n) for n in names]
        keys = ", ".join(
            f"{standardise(f, normalise_missing(ident(mapping[f.name]), schema.missing_values))} AS {ident(f'k{j}')}"
            for j, f in enumerate(fields)
        )
        group = ", ".join(ident(f"k{j}") for j in range(len(fields)))
        row = ident("_source_row")
        statements.append(
            f"CREATE OR REPLACE TABLE {ident(duplicates_table(i))} AS "
            f"SELECT {group}, min({row}) AS {ident('first')} FROM (SELECT {row}, {keys} FROM {source}) "
            f"GROUP BY {group} HAVING count(*) > 1"
        )
    return statements


def _duplicate_check(i: int, rule: str) -> Check:
    label = "primary key" if rule == "primaryKey" else "value, which must be unique,"
    first = ident(f"_first{i}")
    return Check(
        rule,
        f"({first} < {ident('_source_row')})",
        f"{lit(f'duplicates the {label} of row ')} || CAST({first} AS VARCHAR)",
    )


def _key_text(names: tuple[str, ...], raw: dict[str, str]) -> str:
    if len(names) == 1:
        return raw[names[0]]
    return "concat_ws(', ', " + ", ".join(raw[n] for n in names) + ")"
