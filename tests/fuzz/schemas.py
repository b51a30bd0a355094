"""Strategies for schemas: every type and format, each constraint or none, odd names.

A schema is drawn as the plain document a user would write (a dict), so it goes
through :func:`joinedup.schema.parse_schema` like one read from a file. Values are
drawn per field as the text a legacy export might hold: valid (not always in
canonical form), nearly valid, missing, or hostile.
"""

from __future__ import annotations

import string
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import strategies as st

from joinedup.schema.model import CATEGORIES, TABLE_SCHEMA_TYPES
from joinedup.standards import UK_TYPES
from tests.standards.strategies import near_valid, valid

#: Words SQL or DuckDB keep, and names joinedup's own query uses for its working columns.
KEYWORD_NAMES = (
    "select", "order", "group", "from", "where", "table", "column", "rule", "value", "message",
    "first", "c0", "c1", "v", "q", "s", "k0", "n0", "d0", "rowid", "NULL", "true",
)  # fmt: skip
ODD_NAMES = (
    "it's", 'say "hi"', "first name", "café", "Straße", "名前", "NHS Number", "a;b", "x,y",
    "tab\there", "new\nline", "back\\slash", "per%cent", "1st", "-dash", "É", "emoji 💥",
    "date of birth", "Post-code", "x" * 70,
)  # fmt: skip
_NAME_ALPHABET = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff\u2028\u2029\x85")
#: Text a field may hold that breaks naive CSV, SQL, spreadsheets or Unicode handling.
HOSTILE = (
    '"', '""', "'", ",", ";", "|", "\t", "\r\n", "a\nb", "a\rb", "=1+2", "+44 20", "-1", "@SUM(A1)",
    "'; DROP TABLE x; --", "NULL", "null", "None", "NaN", "nan", "inf", "-inf", "Infinity",
    "1e309", "-0", "0x10", "9" * 30, "\u00a0", " \u00a0 ", "ſ", "１２３", "٣", "💥", "\\", "\\N",
    "#", "x" * 500, "\x1f", "\u2028", "\x0b", "\x0c", "é", "e\u0301", "ı", "K", "  padded  ",
    "1,234", "1.234,5", "£12.50", "95%", "2017-02-30", "0000-01-01", "9999-12-31T23:59:59-01:00",
    "31/12/2017", "12/31/2017", "20170809", "TRUE", "yes", "Y",
)  # fmt: skip
MISSING_TOKENS = ("", "NA", "n/a", "NULL", "-", " ", "null", "None", "0")
#: Whole-value patterns on which Python's re and DuckDB's RE2 agree (no \s, \w, (?i)).
PATTERNS = (".*", "[A-Za-z ]*", "[0-9]+", ".{0,3}", "[^,]*", "[A-Z][a-z]+", "(ab|cd)+", "")
DATE_FORMATS = ("default", "%d/%m/%Y", "%m/%d/%Y", "%Y%m%d", "%d %b %Y")
DATETIME_FORMATS = ("default", "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S")
STRING_FORMATS = ("default", "person_name", "email", "uri", "uuid")
TYPES = TABLE_SCHEMA_TYPES + UK_TYPES


def names() -> st.SearchStrategy[str]:
    made = st.text(_NAME_ALPHABET, min_size=1, max_size=12).filter(lambda n: n.strip() == n and not n.startswith("_"))
    return st.one_of(
        st.sampled_from(KEYWORD_NAMES),
        st.sampled_from(ODD_NAMES),
        st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True),
        made,
    )


@st.composite
def field_names(draw: st.DrawFn) -> list[str]:
    """Names that differ even ignoring case; now and then two that differ only in case (refused in one line)."""
    chosen = draw(st.lists(names(), min_size=1, max_size=6, unique_by=str.lower))
    if draw(st.integers(0, 29)) == 0:
        twin = chosen[0].swapcase()
        if twin != chosen[0]:
            chosen.append(twin)
    return chosen


def _format(type_: str) -> st.SearchStrategy[str]:
    if type_ == "date":
        return st.sampled_from(DATE_FORMATS)
    if type_ == "datetime":
        return st.sampled_from(DATETIME_FORMATS)
    if type_ == "string":
        return st.sampled_from(STRING_FORMATS)
    return st.just("default")


def _bounds(type_: str) -> st.SearchStrategy[Any]:
    if type_ in ("integer", "year"):
        return st.integers(-5, 3000)
    if type_ == "number":
        return st.one_of(st.integers(-1000, 1000), st.floats(-1e6, 1e6, allow_nan=False))
    if type_ == "date":
        return st.dates(date(1000, 1, 1), date(2999, 12, 31)).map(date.isoformat)
    return st.datetimes(datetime(1900, 1, 1), datetime(2100, 1, 1)).map(lambda d: d.isoformat() + "Z")


@st.composite
def field_documents(draw: st.DrawFn, name: str) -> dict[str, Any]:
    type_ = draw(st.sampled_from(TYPES))
    doc: dict[str, Any] = {"name": name, "type": type_}
    fmt = draw(_format(type_))
    if fmt != "default" or draw(st.booleans()):
        doc["format"] = fmt
    if draw(st.integers(0, 4)) == 0:
        doc["title"] = draw(st.sampled_from([name.upper(), f"The {name}", "Title 名", "select"]))
    if draw(st.booleans()):
        category = draw(st.none() | st.sampled_from(CATEGORIES))
        doc["personal"] = True
        if category:
            doc["category"] = category
    if type_ == "boolean" and draw(st.booleans()):
        doc["trueValues"] = draw(
            st.lists(st.sampled_from(["J", "Oui", "1", "x", "是"]), min_size=1, max_size=2, unique=True)
        )
        doc["falseValues"] = draw(
            st.lists(st.sampled_from(["N", "Non", "0", "x", "否"]), min_size=1, max_size=2, unique=True)
        )
    if type_ in ("integer", "number") and draw(st.booleans()):
        choice = draw(st.sampled_from(["group", "decimal", "bare", "all"]))
        if choice in ("group", "all"):
            doc["groupChar"] = draw(st.sampled_from([",", " ", "'", "."]))
        if choice in ("decimal", "all") and type_ == "number":
            doc["decimalChar"] = draw(st.sampled_from([",", "."]))
        if choice in ("bare", "all"):
            doc["bareNumber"] = False
    constraints = draw(constraint_documents(type_, doc))
    if constraints:
        doc["constraints"] = constraints
    return doc


@st.composite
def constraint_documents(draw: st.DrawFn, type_: str, doc: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if draw(st.integers(0, 3)) == 0:
        found["required"] = True
    if draw(st.integers(0, 4)) == 0:
        found["unique"] = True
    if draw(st.integers(0, 5)) == 0:
        found["pattern"] = draw(st.sampled_from(PATTERNS))
    if draw(st.integers(0, 4)) == 0:
        if type_ in ("integer", "year"):
            found["enum"] = draw(st.lists(st.integers(-3, 2100), min_size=1, max_size=4, unique=True))
        elif type_ == "number":
            found["enum"] = draw(
                st.lists(st.one_of(st.integers(-3, 3), st.sampled_from([0.5, 1.25, -2.0])), min_size=1, max_size=4)
            )
        else:
            found["enum"] = draw(st.lists(field_values(doc, hostile=False), min_size=1, max_size=4, unique=True))
    if type_ in ("integer", "year", "number", "date", "datetime"):
        for key in ("minimum", "maximum"):
            if draw(st.integers(0, 3)) == 0:
                found[key] = draw(_bounds(type_))
    for key in ("minLength", "maxLength"):
        if draw(st.integers(0, 5)) == 0:
            found[key] = draw(st.integers(0, 10))
    return found


@st.composite
def schema_documents(draw: st.DrawFn) -> dict[str, Any]:
    fields = [draw(field_documents(name)) for name in draw(field_names())]
    doc: dict[str, Any] = {"fields": fields}
    if draw(st.booleans()):
        key = draw(st.lists(st.sampled_from([f["name"] for f in fields]), min_size=1, max_size=2, unique=True))
        doc["primaryKey"] = key[0] if len(key) == 1 and draw(st.booleans()) else key
    missing = draw(
        st.one_of(st.none(), st.just([]), st.lists(st.sampled_from(MISSING_TOKENS), max_size=3, unique=True))
    )
    if missing is not None:
        doc["missingValues"] = missing
    if draw(st.booleans()):
        doc["title"] = draw(st.sampled_from(["Fuzzed", "Données: «test»", "a: b"]))
    return doc


# -- values -------------------------------------------------------------------------


def _written_number(value: int | float, doc: dict[str, Any]) -> str:
    text = repr(value) if isinstance(value, float) else str(value)
    if doc.get("groupChar") and isinstance(value, int) and abs(value) >= 1000:
        text = f"{value:,}".replace(",", doc["groupChar"])
    if doc.get("decimalChar", ".") != ".":
        text = text.replace(".", doc["decimalChar"])
    if doc.get("bareNumber") is False:
        text = "£" + text
    return text


def _dates(fmt: str) -> st.SearchStrategy[str]:
    days = st.dates(date(1000, 1, 1), date(9999, 12, 31))
    return days.map(date.isoformat) if fmt == "default" else days.map(lambda d: d.strftime(fmt))


def _datetimes(fmt: str) -> st.SearchStrategy[str]:
    if fmt == "default":
        return valid("iso_datetime")
    moments = st.datetimes(datetime(1000, 1, 1), datetime(9999, 12, 31), timezones=st.just(UTC))
    return moments.map(lambda d: d.strftime(fmt))


def valid_values(doc: dict[str, Any]) -> st.SearchStrategy[str]:
    """Values of the field's type as a person might write them."""
    type_, fmt = doc["type"], doc.get("format", "default")
    if type_ in UK_TYPES:
        return valid(type_)
    if type_ in ("integer", "year"):
        low, high = (1000, 9999) if type_ == "year" else (-(10**15), 10**15)
        return st.integers(low, high).map(lambda v: _written_number(v, doc))
    if type_ == "number":
        numbers = st.one_of(st.integers(-(10**9), 10**9), st.floats(allow_nan=False, allow_infinity=False))
        return numbers.map(lambda v: _written_number(v, doc))
    if type_ == "boolean":
        return st.sampled_from(
            doc.get("trueValues", ["true", "yes", "Y"]) + doc.get("falseValues", ["false", "0", "n"])
        )
    if type_ == "date":
        return _dates(fmt)
    if type_ == "datetime":
        return _datetimes(fmt)
    if fmt == "person_name":
        return valid("person_name")
    if fmt == "email":
        return st.emails()
    if fmt == "uri":
        return st.sampled_from(["https://www.gov.uk/", "mailto:a@b.uk", "urn:isbn:0451450523"])
    if fmt == "uuid":
        return st.uuids().map(str)
    return st.text(string.ascii_letters + string.digits + " -'", max_size=12)


def _damaged(doc: dict[str, Any]) -> st.SearchStrategy[str]:
    type_ = doc["type"]
    if type_ in UK_TYPES:
        return near_valid(type_)
    return valid_values(doc).map(lambda v: v[::-1] if v else "?")


def field_values(doc: dict[str, Any], *, hostile: bool = True) -> st.SearchStrategy[str]:
    """Text a column of this field may hold."""
    options = [valid_values(doc), valid_values(doc), _damaged(doc)]
    enum = doc.get("constraints", {}).get("enum")
    if enum:
        options.append(st.sampled_from([str(v) for v in enum]))
    if hostile:
        options += [
            st.sampled_from(MISSING_TOKENS),
            st.sampled_from(HOSTILE),
            st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\ufeff"), max_size=20),
            valid_values(doc).map(lambda v: f" \t{v}\u00a0 "),
        ]
    return st.one_of(options)
