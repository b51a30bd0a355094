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
#: Longer values than this are free text, never a list of codes.
ENUM_VALUE_MAX_LENGTH = 40

_NUMBER = r"regexp_full_match(v, '[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?')"
_SLASHED_DATE = r"regexp_full_match(v, '[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}')"
_DAY_FIRST, _MONTH_FIRST = "%d/%m/%Y", "%m/%d/%Y"
#: Significant digits every DOUBLE holds exactly: more, and a loaded number may differ from the text.
DOUBLE_DIGITS = 15
# The mantissa's digits without leading zeros (nor trailing zeros after a decimal point): "0.00120" has 2.
_MANTISSA = r"regexp_extract(v, '^[+-]?([0-9]*\.?[0-9]*)', 1)"
_SIGNIFICANT_DIGITS = (
    f"length(ltrim(replace(CASE WHEN contains({_MANTISSA}, '.') THEN rtrim({_MANTISSA}, '0') "
    f"ELSE {_MANTISSA} END, '.', ''), '0'))"
)

_CHECKS: dict[str, str] = {
    # Shape checks for Table Schema types, over trimmed text v.
    # Whole numbers a BIGINT holds: up to 19 digits, within its range.
    "integer": r"regexp_full_match(v, '[+-]?[0-9]{1,19}') AND TRY_CAST(v AS BIGINT) IS NOT NULL",
    "whole": r"regexp_full_match(v, '[+-]?[0-9]+')",
    "number": _NUMBER,
    # Numbers a DOUBLE holds exactly as written: at most 15 significant digits in the mantissa.
    "precise_number": f"{_NUMBER} AND {_SIGNIFICANT_DIGITS} <= {DOUBLE_DIGITS}",
    "boolean": "lower(v) IN ('true', 'false', 'yes', 'no', 'y', 'n')",
    "uk_date": _SLASHED_DATE,
    # ISO 8601 date-times with or without an offset (read in UTC only to check the shape).
    "local_datetime": "jd_iso_datetime_in(v, 'UTC') IS NOT NULL",
    # The two orders, read as ingest will read them: the one more values fit is proposed.
    "day_first": f"{_SLASHED_DATE} AND try_strptime(v, '{_DAY_FIRST}') IS NOT NULL",
    "month_first": f"{_SLASHED_DATE} AND try_strptime(v, '{_MONTH_FIRST}') IS NOT NULL",
    # Reference codes such as R001, CR-2020-0001 or 00123: one token holding a digit.
    "reference": r"regexp_full_match(v, '[A-Za-z0-9]+([-/_.][A-Za-z0-9]+)*') AND regexp_matches(v, '[0-9]') "
    "AND length(v) <= 24",
    # Street numbers such as 12A: digits with letters that are not a number's exponent.
    "digits_and_letters": f"regexp_matches(v, '[0-9]') AND regexp_matches(v, '[A-Za-z]') AND NOT {_NUMBER}",
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
    # Columns naming the member of staff who handled a record hold people's names too.
    (
        r"(^|_)(case_?worker|key_?worker|social_?worker|officer|staff|assigned_to|assignee|(created|updated|modified|entered|recorded|approved|checked)_by|clerk|handler)(_?names?)?$",
        "name",
    ),
    (r"dob|birth|(^|_)born($|_)", "date_of_birth"),
    (r"e_?mail|phone|mobile|(^|_)tel(ephone)?($|_)", "contact"),
    (r"address|street|addr_?line|house_?(no|number|name)|(^|_)(town|city)($|_)", "address"),
    (r"(^|_)(sex|gender)($|_)|(^|_)age($|_)|marital", "demographic"),
    (r"salary|income|bank|account_?(no|number)|sort_?code|benefit", "financial"),
]


#: "Jane Smith", "Smith, Jane", "J. O'Brien": two or more capitalised words.
_PEOPLES_NAME = re.compile(r"[A-Z][A-Za-z'’.-]*,?( [A-Z][A-Za-z'’.-]*)+")


_HEADER_WORDS = (
    r"(^|_)(id|ref|reference|no|num|number|code|type|kind|status|date|time|name|title|description|notes?|"
    r"comments?|category|count|total|amount|value|year|month|day|role|relationship|contact)($|_)"
)
#: Whole words (of a normalised header) that name what a column holds rather than being a value in it.
_HEADER_WORD_LIST = (
    "id ids ref refs reference key no num number code type kind status date time datetime timestamp name names "
    "title description note notes comment comments category class count total amount value year month day week role "
    "relationship contact surname forename forenames firstname lastname fullname middlename given family first last "
    "full middle maiden initial initials preferred known address addresses street road line house flat building "
    "locality town city county district borough ward parish region area country postcode post zip location site place "
    "email mail phone telephone tel mobile fax dob birth born death died age sex gender ethnicity ethnic religion "
    "nationality language marital disability health nhs ni nino uprn usrn vat utr crn company organisation "
    "organization org employer school service team department unit provider practice gp trust authority council "
    "start end from to created updated modified source target flag level group score result outcome reason rate price "
    "cost fee balance quantity qty size percent percentage payment income salary account bank sort period term "
    "carer parent guardian owner officer worker staff client customer person patient pupil student applicant "
    "tenant resident household member user username login councillor landlord tenure scheme programme project "
    "stage step priority method channel funding budget product item items activity event events task action decision "
    "grade band tier sector industry occupation job position qualification course subject class form "
    "condition need needs support plan placement referral assessment review visit appointment admission discharge "
    "incident complaint application licence permit property premises dwelling room bed lsoa msoa "
    "latitude longitude easting northing lat lon lng url link website format version label tag tags remarks summary "
    "details detail info information other enabled active open closed current previous new old"
)
_HEADER_TOKENS = frozenset(_HEADER_WORD_LIST.split(" "))
#: A header written as a field name: snake_case or camelCase.
_IDENTIFIER_LIKE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)+|[a-z]+([A-Z][a-z0-9]*)+")
#: A word or a few, each capitalised: "Jackson", "Samantha", "Milton Keynes".
_CAPITALISED = re.compile(r"[A-Z][a-z'’.-]+( [A-Z][a-z'’.-]+){0,3}")
#: The start of a postal address: "12A High Street", "Flat 3, 12 Mill Lane".
_ADDRESS = re.compile(r"(([A-Z][a-z]+ )?[0-9]+[A-Za-z]?,? )?[0-9]+[A-Za-z]?,? [A-Z][A-Za-z'’.-]*( [A-Z][A-Za-z'’.-]*)*")
#: Share of the values sampled below a header that must share its shape for the header to read as one of them.
_SAME_SHAPE_SHARE = 0.8

#: Values no header is: a header cell holding one is the first row of data.
_DATA_HEADERS = (
    ("nhs_number", "is an NHS number"),
    ("ni_number", "is a National Insurance number"),
    ("postcode", "is a postcode"),
    ("iso_date", "is a date"),
    ("iso_datetime", "is a date-time"),
)


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
    #: Rows below the header whose value in this column is the header's own text.
    header_repeats: int = 0
    #: Rows that repeat the whole header (a second export pasted below the first).
    header_rows: int = 0


def propose_schema(profiles: list[ColumnProfile]) -> Schema:
    """The schema the column profiles (from :func:`profile_columns`) suggest."""
    fields = [propose_field(p) for p in profiles]
    primary = next(
        (
            f.name
            for f in fields
            if f.constraints.unique
            and f.constraints.required
            and re.search(r"(^|_)(id|ref|reference|key|number|no)$", f.name)
        ),
        None,
    )
    if primary:
        # The primary key implies uniqueness; saying it twice would check it twice.
        fields = [
            replace(f, constraints=replace(f.constraints, unique=False)) if f.name == primary else f for f in fields
        ]
    return Schema(fields=tuple(fields), primary_key=(primary,) if primary else ())


def profile_columns(
    con: duckdb.DuckDBPyConnection, relation: str, headers: list[str], names: list[str]
) -> list[ColumnProfile]:
    """Count what fits each type in ``relation`` (raw text columns ``c0..cN``), in one pass.

    ``headers`` are the file's column titles and ``names`` the field names to use.
    """
    checks = {
        **{t: f"{STANDARD_TYPES[t].macro}(v) IS NOT NULL" for t in STANDARD_TYPES if t != "person_name"},
        **_CHECKS,
    }
    selects = []
    for i in range(len(headers)):
        v = f"NULLIF(trim(c{i}), '')"
        parts = [
            f"count({v})",
            f"count(DISTINCT {v})",
            f"coalesce(max(length({v})), 0)",
            *(f"count(*) FILTER (WHERE {_bind(sql, v)})" for sql in checks.values()),
            f"count(*) FILTER (WHERE {v} = $h{i})",
            f"list(DISTINCT {v}) FILTER (WHERE {v} IS NOT NULL)[1:{ENUM_MAX + 1}]",
        ]
        selects.append(", ".join(parts))
    # Headers are parameters: they are the file's text, never SQL.
    whole_header = " AND ".join(f"trim(c{i}) = $h{i}" for i in range(len(headers)))
    sql = f"SELECT count(*), count(*) FILTER (WHERE {whole_header}), {', '.join(selects)} FROM {relation}"
    row = con.execute(sql, {f"h{i}": h for i, h in enumerate(headers)}).fetchone()
    assert row is not None
    total, header_rows = int(row[0]), int(row[1])
    width = 3 + len(checks) + 2
    profiles = []
    for i, header in enumerate(headers):
        values = row[2 + i * width : 2 + (i + 1) * width]
        present, distinct, max_length = int(values[0]), int(values[1]), int(values[2])
        passes = dict(zip(checks, (int(x) for x in values[3 : 3 + len(checks)]), strict=True))
        sample = [str(x) for x in (values[-1] or [])]
        profiles.append(
            ColumnProfile(
                header, names[i], total, present, distinct, max_length, passes, sample, int(values[-2]), header_rows
            )
        )
    return profiles


def data_like_headers(profiles: list[ColumnProfile]) -> list[tuple[int, str]]:
    """Header cells that look like values rather than names, as (1-based column, what it looks like).

    A file without a header row would otherwise give its first person's details as
    field names, which then travel into schemas, the catalogue and the audit log.
    """
    found = []
    # "Main Carer" over names is a header when its neighbours are headers too.
    worded = any(_is_header_word(p.name) for p in profiles)
    # Shape alone cannot tell "Region" over towns from "Leeds" over towns; a row in which
    # most cells are not ordinary header words is what makes the shape telling. Most, not
    # any: surnames such as Ward, Day or Price are header words too.
    ordinary = sum(1 for p in profiles if _is_ordinary_header(p.header))
    plain_words = 2 * ordinary <= len(profiles)
    alike = []
    for position, p in enumerate(profiles, start=1):
        kind = _data_like(p.header)
        if kind is None and p.header_repeats > p.header_rows:
            kind = "is a value found again below it"
        if kind is None and not worded and _names_a_person(p):
            kind = "is a person's name above more of them"
        if kind is not None:
            found.append((position, kind))
        elif plain_words and (shaped := _same_shape_as_values(p)) is not None:
            alike.append((position, shaped))
    # The error shows a few: the surest signs (an NHS number, a date) go first.
    return found + alike


def _names_a_person(p: ColumnProfile) -> bool:
    """A header like "Sam Jackson" over a column of people's names."""
    if not _PEOPLES_NAME.fullmatch(p.header.strip()) or not p.sample_values:
        return False
    names = sum(1 for value in p.sample_values if _PEOPLES_NAME.fullmatch(value))
    return names >= 0.8 * len(p.sample_values)


def _is_ordinary_header(header: str) -> bool:
    """A header cell written as headers are: a field-name-like token, or holding a word headers use as a whole word."""
    text = header.strip()
    if _IDENTIFIER_LIKE.fullmatch(text):
        return True
    if _ADDRESS.fullmatch(text):
        return False  # "12 Street Lane" names a place, not a column
    words = re.split(r"[^a-z0-9]+", _normalise_words(text))
    return any(word in _HEADER_TOKENS for word in words)


def _normalise_words(text: str) -> str:
    # camelCase splits into words before lower-casing: "dateOfBirth" holds "date".
    return re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower()


def _same_shape_as_values(p: ColumnProfile) -> str | None:
    """What a header cell is when it has the shape of the values below it, or None."""
    text = p.header.strip()
    values = [value.strip() for value in p.sample_values if value.strip()]
    if not values:
        return None
    shapes = ((_ADDRESS, "is an address above more of them"), (_CAPITALISED, "is a word like those below it"))
    for shape, kind in shapes:
        if shape.fullmatch(text):
            alike = sum(1 for value in values if shape.fullmatch(value) and not _is_ordinary_header(value))
            if alike >= _SAME_SHAPE_SHARE * len(values):
                return kind
    return None


def _is_header_word(name: str) -> bool:
    """A field name holding a word headers use: what a column is, not a value in it."""
    patterns = (_HEADER_WORDS, *(pattern for pattern, _ in (*_PERSONAL, *_HINTS, *_NAMED_IDENTIFIERS)))
    return any(re.search(pattern, name) for pattern in patterns)


def _data_like(header: str) -> str | None:
    text = header.strip()
    for type_, kind in _DATA_HEADERS:
        if STANDARD_TYPES[type_].reference(text) is not None:
            return kind
    if re.fullmatch(r"[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{2,4}", text):
        return "is a date"
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        return "is an email address"
    # Wide tables have a column per year; other bare numbers are data.
    if re.fullmatch(r"[+-]?[0-9]+([.,][0-9]+)?", text) and not re.fullmatch(r"(18|19|20|21)[0-9]{2}", text):
        return "is a number"
    return None


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
    # Codes written as text (R001, leading zeros) identify things too; a personal column is left alone.
    reference = type_ == "string" and category is None and p.passes["reference"] == p.present
    unique = p.present >= 10 and p.distinct == p.present and (type_ in _IDENTIFYING_TYPES or reference)
    enum = _enum(p, type_, fmt, category, notes)
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


def _enum(p: ColumnProfile, type_: str, fmt: str, category: str | None, notes: list[str]) -> tuple[str, ...] | None:
    """A short list of codes seen often, or None.

    Never from a personal column or one whose values look like people's names: a
    schema is shown to anyone who may see the dataset's metadata.
    """
    # One value seen is not a list of allowed values (a later export may well hold others).
    if type_ != "string" or fmt != "default" or not 2 <= p.distinct <= ENUM_MAX or p.present < 20 * p.distinct:
        return None
    if category is not None or p.max_length > ENUM_VALUE_MAX_LENGTH:
        return None
    if any(_PEOPLES_NAME.fullmatch(value) for value in p.sample_values):
        notes.append("no enum proposed: the values look like people's names")
        return None
    return tuple(sorted(p.sample_values))


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
        return "date", _date_order(p, notes)
    if share("boolean") >= THRESHOLD and p.distinct <= 4:
        return "boolean", "default"
    if p.passes["digits_and_letters"] and share("number") >= THRESHOLD:
        notes.append(
            f"kept as text: {_of(p.passes['digits_and_letters'], p)} "
            "mix digits and letters, as house numbers like 12A do"
        )
        return "string", "default"
    if p.passes["whole"] > p.passes["integer"] and share("whole") >= THRESHOLD:
        # A number column would round them (a DOUBLE holds 15 digits); text keeps every digit.
        notes.append(
            f"kept as text: {_of(p.passes['whole'] - p.passes['integer'], p)} "
            "are whole numbers too large for a 64-bit integer"
        )
        return "string", "default"
    if share("integer") >= THRESHOLD:
        # Leading zeros carry meaning in codes; keep those as text.
        if any(s.startswith("0") and len(s) > 1 for s in p.sample_values):
            notes.append("kept as text: values have leading zeros")
            return "string", "default"
        return "integer", "default"
    if share("number") >= THRESHOLD:
        imprecise = p.passes["number"] - p.passes["precise_number"]
        if imprecise:
            # type number is a DOUBLE: 12345678901234567.89 would load as 12345678901234568.
            notes.append(
                f"kept as text: {_of(imprecise, p)} have more than {DOUBLE_DIGITS} significant digits, "
                "more than a number holds exactly"
            )
            return "string", "default"
        return "number", "default"
    return "string", "default"


def _date_order(p: ColumnProfile, notes: list[str]) -> str:
    """Day first unless more values fit month first; the notes say how many fit neither way chosen."""
    day, month = p.passes["day_first"], p.passes["month_first"]
    if month > day:
        notes.append(f"dates read month first ({_MONTH_FIRST}): more values fit that order")
        chosen, fitting = _MONTH_FIRST, month
    else:
        if day == month:
            notes.append(
                "day/month order assumed UK (day first): as many values fit either order; check before ingesting"
            )
        else:
            notes.append(f"dates read day first ({_DAY_FIRST}): more values fit that order")
        chosen, fitting = _DAY_FIRST, day
    if fitting < p.present:
        notes.append(f"{_of(p.present - fitting, p)} do not fit {chosen} and would be quarantined")
    return chosen


def _of(count: int, p: ColumnProfile) -> str:
    return f"{count:,} of {p.present:,} values"


def _category(name: str, type_: str) -> str | None:
    if type_ in STANDARD_TYPES and STANDARD_TYPES[type_].personal_category:
        return STANDARD_TYPES[type_].personal_category
    # A header naming a personal identifier marks the column personal even when too few
    # of its values were valid to propose the type: its statistics must stay out of metadata.
    named = next((t for pattern, t in _NAMED_IDENTIFIERS if re.search(pattern, name)), None)
    if named:
        return STANDARD_TYPES[named].personal_category
    return next((category for pattern, category in _PERSONAL if re.search(pattern, name)), None)
