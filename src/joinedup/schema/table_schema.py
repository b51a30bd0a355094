"""Plain Frictionless Table Schema, for tools that know nothing of joinedup's extensions.

Tools such as the ``frictionless`` package refuse field types and string formats
outside the Table Schema spec (``type: postcode``, ``format: person_name``). The
export writes each UK type as ``type: string`` with a ``pattern`` those tools can
check, and keeps what joinedup adds in namespaced properties (``joinedup:type``,
``joinedup:format``, ``joinedup:personal``, ``joinedup:category``, and the
date-time bounds they cannot compare, ``joinedup:minimum``/``joinedup:maximum``), which they
carry along untouched. :func:`native_field` reads that form back, so a schema
survives the trip with the same digest.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from joinedup.standards import facts

if TYPE_CHECKING:
    from joinedup.schema.model import Schema

NAMESPACE = "joinedup:"
#: The joinedup field keys the export moves into namespaced properties.
_EXTENDED = ("personal", "category")

# Blanks and hyphens may sit anywhere in an identifier joinedup accepts.
_GAP = r"[\s-]*"
_BLANKS = r"\s*"


def _digits(count: int, gap: str = _GAP) -> str:
    return f"([0-9]{gap}){{{count}}}"


def _letter(letters: str) -> str:
    """One of ``letters`` in either case (no inline flags: not every regex dialect has them)."""
    return f"[{letters}{letters.lower()}]"


def _word(text: str, gap: str = _GAP) -> str:
    return gap.join(_letter(ch) if ch.isalpha() else ch for ch in text)


_ANY_LETTER = "[A-Za-z]"

#: For each UK type, a regular expression every value joinedup accepts matches in
#: full. It checks the shape only: check digits and allocated prefixes are joinedup's
#: own, so the pattern can pass values ingest would quarantine, never the reverse.
#: Plain groups and classes only, so that the XML Schema, Python and JavaScript
#: dialects other tools use all read it the same way.
UK_PATTERNS: dict[str, str] = {
    "nhs_number": _GAP + _digits(10),
    "ni_number": (
        f"{_GAP}{_letter(facts.NI_FIRST_LETTERS)}{_GAP}{_letter(facts.NI_SECOND_LETTERS)}{_GAP}"
        f"{_digits(6)}{_letter(facts.NI_SUFFIXES)}{_GAP}"
    ),
    "postcode": (
        rf"\s*(({_ANY_LETTER}\s*){{1,2}}[0-9]\s*([0-9]\s*|{_ANY_LETTER}\s*)?[0-9]\s*{_ANY_LETTER}\s*{_ANY_LETTER}"
        rf"|{_word('GIR0AA', _BLANKS)})\s*"
    ),
    "uprn": rf"\s*0*[1-9][0-9]{{0,{facts.UPRN_MAX_DIGITS - 1}}}\s*",
    "usrn": rf"\s*0*[1-9][0-9]{{0,{facts.USRN_MAX_DIGITS - 1}}}\s*",
    # Eight digits; a two-letter prefix (or R and a digit) and six digits; a society's IP, SP, NP or RS,
    # five digits and a letter.
    "company_number": (
        rf"\s*(([0-9]\s*){{1,8}}|(([0-9]|{_ANY_LETTER})\s*){{2}}([0-9]\s*){{6}}"
        rf"|({_ANY_LETTER}\s*){{2}}([0-9]\s*){{5}}{_ANY_LETTER}\s*)"
    ),
    "vat_number": (
        f"{_GAP}(({_word('GB')}|{_word('XI')}){_GAP})?"
        f"(({_word('GD')}|{_word('HA')}){_GAP}{_digits(3)}|{_digits(12)}|{_digits(9)})"
    ),
    "utr": f"{_GAP}({_letter('K')}{_GAP})?{_digits(10)}({_letter('K')}{_GAP})?",
    "gss_code": rf"\s*{_letter(facts.GSS_COUNTRY_LETTERS)}[0-9]{{8}}\s*",
    "country_code": rf"\s*{_ANY_LETTER}{{2}}(-{_ANY_LETTER}{{3}})?\s*",
}


def to_table_schema(schema: Schema) -> dict[str, Any]:
    """``schema`` as a descriptor the ``frictionless`` package accepts."""
    data = schema.to_dict()
    data["fields"] = [_plain_field(f) for f in data["fields"]]
    if "quality" in data:
        # Not a Table Schema property: carried, namespaced, like the UK types.
        data[f"{NAMESPACE}quality"] = data.pop("quality")
    return data


def _plain_field(data: dict[str, Any]) -> dict[str, Any]:
    field = dict(data)
    extensions: dict[str, Any] = {}
    if field["type"] in UK_PATTERNS:
        extensions["type"] = field["type"]
        field["type"] = "string"
        constraints = dict(field.get("constraints", {}))
        # A pattern of the field's own is the stricter check; it stands in for the type's.
        constraints.setdefault("pattern", UK_PATTERNS[extensions["type"]])
        field["constraints"] = constraints
    if field.get("format") == "person_name":
        extensions["format"] = field.pop("format")
    for key in _EXTENDED:
        if key in field:
            extensions[key] = field.pop(key)
    if field["type"] == "datetime":
        extensions.update(_incomparable_bounds(field))
    if field["type"] in ("date", "datetime") and field.get("format", "default") != "default":
        _bounds_in_format(field)
    field.update({NAMESPACE + key: value for key, value in extensions.items()})
    return field


def _incomparable_bounds(field: dict[str, Any]) -> dict[str, Any]:
    """Take out the date-time bounds Table Schema tools cannot compare with the field's values, and return them.

    ``frictionless`` compares a bound with each value as Python datetimes, and a
    naive one with an aware one raises instead of failing the row. So a bound is
    exported only when it carries a UTC offset exactly when every value does; any
    other stays in ``joinedup:minimum``/``joinedup:maximum``, checked by joinedup
    alone. A field with a timezone and ISO values holds both kinds, so its bounds
    always go there.
    """
    fmt = field.get("format", "default")
    values_aware = ("%z" in fmt) if fmt != "default" else (None if field.get("timezone") else True)
    constraints = dict(field.get("constraints", {}))
    aside = {}
    for key in ("minimum", "maximum"):
        if key in constraints:
            bound_aware = datetime.fromisoformat(constraints[key]).tzinfo is not None
            if values_aware is None or bound_aware != values_aware:
                aside[key] = constraints.pop(key)
    if aside:
        if constraints:
            field["constraints"] = constraints
        else:
            del field["constraints"]
    return aside


def _bounds_in_format(field: dict[str, Any]) -> None:
    # Table Schema reads a bound in the field's own format; joinedup keeps them ISO 8601.
    constraints = dict(field.get("constraints", {}))
    for key in ("minimum", "maximum"):
        if key in constraints:
            constraints[key] = _formatted(constraints[key], field["type"], field["format"])
    if constraints:
        field["constraints"] = constraints


def _formatted(iso: str, type_: str, pattern: str) -> str:
    moment = datetime.fromisoformat(iso)
    text = moment.strftime(pattern)
    # A pattern that drops part of the value (no year, no zone) cannot carry the bound: keep it ISO.
    return text if parse_formatted(text, type_, pattern) == iso else iso


def parse_formatted(text: str, type_: str, pattern: str) -> str | None:
    """A date or date-time bound written in the field's format, as ISO 8601; None when it is not."""
    try:
        moment = datetime.strptime(text, pattern)
    except ValueError:
        return None
    value: date | datetime = moment.date() if type_ == "date" else moment
    return value.isoformat()


def native_field(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """A field descriptor with the export's namespaced properties turned back into joinedup's own.

    Anything that does not fit (a ``joinedup:type`` on a field that is not a string,
    both ``personal`` and ``joinedup:personal``) is left for the schema reader to refuse.
    """
    if not any(isinstance(key, str) and key.startswith(NAMESPACE) for key in data):
        return data
    field = dict(data)
    uk_type = field.get(NAMESPACE + "type")
    if uk_type in UK_PATTERNS and field.get("type", "string") == "string":
        del field[NAMESPACE + "type"]
        field["type"] = uk_type
        constraints = field.get("constraints")
        if isinstance(constraints, Mapping) and constraints.get("pattern") == UK_PATTERNS[uk_type]:
            field["constraints"] = {k: v for k, v in constraints.items() if k != "pattern"}
    if field.get(NAMESPACE + "format") == "person_name" and field.get("format", "default") == "default":
        field["format"] = field.pop(NAMESPACE + "format")
    for key in _EXTENDED:
        if NAMESPACE + key in field and key not in field:
            field[key] = field.pop(NAMESPACE + key)
    constraints = field.get("constraints", {})
    if isinstance(constraints, Mapping) and field.get("type") == "datetime":
        restored = dict(constraints)
        for key in ("minimum", "maximum"):
            if NAMESPACE + key in field and key not in restored:
                restored[key] = field.pop(NAMESPACE + key)
        if restored:
            field["constraints"] = restored
    return field
