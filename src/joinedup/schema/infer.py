"""Proposing a schema from data: types (UK identifiers first), constraints and personal data.

All the counting is one DuckDB aggregate over the raw text columns; the choice
of type per column is then made from those counts. The result is a proposal for
a person to review (the descriptions say where a choice was a judgement).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import duckdb

from joinedup.schema.model import Constraints, Field, Schema
from joinedup.standards import STANDARD_TYPES

#: Share of non-missing values that must fit a type for it to be proposed;
#: the rest are what ingest will quarantine.
THRESHOLD = 0.95
ENUM_MAX = 12

_CHECKS: dict[str, str] = {
    # Shape checks for Table Schema types, over trimmed text v.
    "integer": r"regexp_full_match(v, '[+-]?[0-9]{1,18}')",
    "number": r"regexp_full_match(v, '[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?')",
    "boolean": "lower(v) IN ('true', 'false', 'yes', 'no', 'y', 'n')",
    "uk_date": r"regexp_full_match(v, '[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}')",
    # ISO 8601 date-times with or without an offset (read in UTC only to check the shape).
    "local_datetime": "jd_iso_datetime_in(v, 'UTC') IS NOT NULL",
    "day_first": r"regexp_full_match(v, '[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}') AND TRY_CAST(split_part(v, '/', 1) AS INTEGER) > 12",
    "month_first": r"regexp_full_match(v, '[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}') AND TRY_CAST(split_part(v, '/', 2) AS INTEGER) > 12",
}
#: Types a column's shape alone can confuse with plain numbers or words: proposed only when the header says so.
_NEEDS_HINT = {"uprn", "usrn", "country_code", "utr", "vat_number", "company_number"}
_HINTS: list[tuple[str, str]] = [
    (r"nhs", "nhs_number"),
    (r"(^|_)ni($|_)|nino|national_?insurance", "ni_number"),
    (r"post_?code", "postcode"),
    (r"uprn", "uprn"),
    (r"usrn", "usrn"),
    (r"compan(y|ies)_?(house_?)?(no|num|number|reg)|crn|company_?id", "company_number"),
    (r"vat", "vat_number"),
    (r"utr|unique_?tax", "utr"),
    (r"gss|(la|lad|ward|lsoa|msoa|geography)_?code", "gss_code"),
    (r"country", "country_code"),
]
#: Headers that name a personal identifier outright (stricter than the type hints:
#: ``nhs_trust`` or ``postcode_district`` are not about one person).
_NAMED_IDENTIFIERS: list[tuple[str, str]] = [
    (r"nhs_?(no|num|number)($|_)", "nhs_number"),
    (r"(^|_)ni_?(no|num|number)($|_)|nino|national_?insurance", "ni_number"),
    (r"(^|_)post_?code$", "postcode"),
    (r"(^|_)utr($|_)|unique_?tax", "utr"),
]
#: Types whose values identify one thing each, so a column of them may be proposed as unique.
_IDENTIFYING_TYPES = {"integer", "nhs_number", "ni_number", "uprn", "usrn", "company_number", "vat_number", "utr"}
_PERSONAL: list[tuple[str, str]] = [
    # Special category data first: "ethnicity" must not read as an address because it ends in "city".
    (r"ethnic|(^|_)race($|_)", "racial_or_ethnic_origin"),
    (r"relig|faith|belief", "religious_or_philosophical_beliefs"),
    (r"health|diagnos|condition|disabilit|medical|medication", "health"),
    (r"offen[cs]e|convict|criminal", "criminal_offence"),
    (r"(^|_)(first|given|fore|middle|last|family|sur|full|maiden)?_?names?($|_)|forename|surname", "name"),
    (r"dob|birth", "date_of_birth"),
    (r"e_?mail|phone|mobile|(^|_)tel(ephone)?($|_)", "contact"),
    (r"address|street|addr_?line|house_?(no|number|name)|(^|_)(town|city)($|_)", "address"),
    (r"(^|_)(sex|gender)($|_)|(^|_)age($|_)|marital", "demographic"),
    (r"salary|income|bank|account_?(no|number)|sort_?code|benefit", "financial"),
]


@dataclass
class ColumnProfile:
    header: str
    name: str
    rows: int
    present: int
    distinct: int
    max_length: int
    passes: dict[str, int]
    sample_values: list[str]


def infer_schema(con: duckdb.DuckDBPyConnection, relation: str, headers: list[str], names: list[str]) -> Schema:
    """Propose a schema for ``relation`` (raw text columns ``c0..cN``).

    ``headers`` are the file's column titles and ``names`` the field names to use.
    """
    profiles = profile_columns(con, relation, headers, names)
    fields = [propose_field(p) for p in profiles]
    primary = next(
        (f.name for f in fields if f.constraints.unique and f.constraints.required and re.search(r"(^|_)(id|ref|key|number|no)$", f.name)),
        None,
    )
    if primary:
        # The primary key implies uniqueness; saying it twice would check it twice.
        fields = [replace(f, constraints=replace(f.constraints, unique=False)) if f.name == primary else f for f in fields]
    return Schema(fields=tuple(fields), primary_key=(primary,) if primary else ())


def profile_columns(con: duckdb.DuckDBPyConnection, relation: str, headers: list[str], names: list[str]) -> list[ColumnProfile]:
    checks = {**{t: f"{STANDARD_TYPES[t].macro}(v) IS NOT NULL" for t in STANDARD_TYPES if t != "person_name"}, **_CHECKS}
    selects = []
    for i in range(len(headers)):
        v = f"NULLIF(trim(c{i}), '')"
        parts = [
            f"count({v})",
            f"count(DISTINCT {v})",
            f"coalesce(max(length({v})), 0)",
            *(f"count(*) FILTER (WHERE {_bind(sql, v)})" for sql in checks.values()),
            f"list(DISTINCT {v}) FILTER (WHERE {v} IS NOT NULL)[1:{ENUM_MAX + 1}]",
        ]
        selects.append(", ".join(parts))
    row = con.execute(f"SELECT count(*), {', '.join(selects)} FROM {relation}").fetchone()
    assert row is not None
    total = int(row[0])
    width = 3 + len(checks) + 1
    profiles = []
    for i, header in enumerate(headers):
        values = row[1 + i * width : 1 + (i + 1) * width]
        present, distinct, max_length = int(values[0]), int(values[1]), int(values[2])
        passes = dict(zip(checks, (int(x) for x in values[3 : 3 + len(checks)]), strict=True))
        sample = [str(x) for x in (values[-1] or [])]
        profiles.append(ColumnProfile(header, names[i], total, present, distinct, max_length, passes, sample))
    return profiles


def _bind(sql: str, v: str) -> str:
    # Each check is written over a column called v; substitute the real expression.
    return re.sub(r"\bv\b", v, sql)


def propose_field(p: ColumnProfile) -> Field:
    notes: list[str] = []
    type_, fmt = _choose_type(p, notes)
    timezone = None
    if type_ == "datetime" and p.passes["iso_datetime"] < p.passes["local_datetime"]:
        # UK bodies' systems mostly write wall-clock time; without a zone these values would be refused.
        timezone = "Europe/London"
        notes.append("values without a UTC offset read as UK local time (Europe/London); check")
    category = _category(p.name, type_)
    if type_ == "string" and category == "name":
        fmt = "person_name"
    required = p.present == p.rows and p.rows > 0
    # Only identifiers are unique by nature: ten different postcodes or dates are a coincidence.
    unique = p.present >= 10 and p.distinct == p.present and type_ in _IDENTIFYING_TYPES
    enum = None
    # One value seen is not a list of allowed values (a later export may well hold others).
    if type_ == "string" and fmt == "default" and category != "name" and 2 <= p.distinct <= ENUM_MAX and p.present >= 20 * p.distinct:
        enum = tuple(sorted(p.sample_values))
    description = "; ".join(notes) or None
    return Field(
        name=p.name,
        type=type_,
        format=fmt,
        title=p.header if p.header != p.name else None,
        description=description,
        constraints=Constraints(required=required, unique=unique, enum=enum),
        personal=category is not None,
        category=category,
        timezone=timezone,
    )


def _choose_type(p: ColumnProfile, notes: list[str]) -> tuple[str, str]:
    if p.present == 0:
        notes.append("empty in the data inferred from")
        return "string", "default"

    def share(check: str) -> float:
        return p.passes[check] / p.present

    hinted = next((t for pattern, t in _HINTS if re.search(pattern, p.name)), None)
    if hinted and share(hinted) >= THRESHOLD:
        return hinted, "default"
    for uk in ("nhs_number", "ni_number", "postcode", "gss_code"):
        if uk not in _NEEDS_HINT and share(uk) >= THRESHOLD and p.max_length >= 5:
            return uk, "default"
    if share("iso_date") >= THRESHOLD:
        return "date", "default"
    if share("local_datetime") >= THRESHOLD:
        return "datetime", "default"
    if share("uk_date") >= THRESHOLD:
        if p.passes["month_first"] and not p.passes["day_first"]:
            notes.append("dates read month first (a second part above 12 was seen)")
            return "date", "%m/%d/%Y"
        if not p.passes["day_first"]:
            notes.append("day/month order assumed UK (day first): no value proved it; check before ingesting")
        return "date", "%d/%m/%Y"
    if share("boolean") >= THRESHOLD and p.distinct <= 4:
        return "boolean", "default"
    if share("integer") >= THRESHOLD:
        # Leading zeros carry meaning in codes; keep those as text.
        if any(s.startswith("0") and len(s) > 1 for s in p.sample_values):
            notes.append("kept as text: values have leading zeros")
            return "string", "default"
        return "integer", "default"
    if share("number") >= THRESHOLD:
        return "number", "default"
    return "string", "default"


def _category(name: str, type_: str) -> str | None:
    if type_ in STANDARD_TYPES and STANDARD_TYPES[type_].personal_category:
        return STANDARD_TYPES[type_].personal_category
    # A header naming a personal identifier marks the column personal even when too few
    # of its values were valid to propose the type: its statistics must stay out of metadata.
    named = next((t for pattern, t in _NAMED_IDENTIFIERS if re.search(pattern, name)), None)
    if named:
        return STANDARD_TYPES[named].personal_category
    return next((category for pattern, category in _PERSONAL if re.search(pattern, name)), None)
