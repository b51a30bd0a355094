"""The rules as DuckDB SQL macros: the fast path ingest validates with.

``jd_<type>(x)`` returns the canonical form as VARCHAR, or NULL when ``x`` is
invalid or NULL. The macros are set-based and use only string functions,
regular expressions, CASE and integer arithmetic on ``substr``/``TRY_CAST``,
so they run vectorised and translate to Spark SQL. Casts are TRY_CASTs even
behind a CASE that has already checked the digits: when the argument is a
constant, DuckDB folds every branch, the untaken ones included.

Macros inline their argument wherever it appears. DuckDB computes a repeated
piece once per row only if it is not itself a CASE and it appears where it is
always evaluated (the first WHEN, or the left of an AND), so each macro opens
with a plain shape test on its cleaned-up text and keeps the rest inside.
A value passed in as a number (an integer column) is read as its text.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

import duckdb

from joinedup.standards import facts
from joinedup.standards.countries import COUNTRY_ALIASES, COUNTRY_CODES

_TEXT = "CAST(x AS VARCHAR)"


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


_REGEX_ESCAPES = {"\t": "\\t", "\r": "\\r", "\n": "\\n", "\u00a0": "\\x{00A0}"}


def _any_of(characters: str) -> str:
    """A regular expression character class, with invisible characters written as escapes."""
    # A hyphen must come last in a class or it reads as a range.
    ordered = characters.replace("-", "") + ("-" if "-" in characters else "")
    return "[" + "".join(_REGEX_ESCAPES.get(ch, ch) for ch in ordered) + "]"


def _without(sql: str, characters: str) -> str:
    return f"regexp_replace({sql}, {_lit(_any_of(characters))}, '', 'g')"


def _trimmed(sql: str) -> str:
    # Twice as fast as trim(x, characters), which decodes every character.
    blanks = _any_of(facts.BLANKS)
    return f"regexp_replace({sql}, {_lit(f'^{blanks}+|{blanks}+$')}, '', 'g')"


def _is_ascii(sql: str) -> str:
    # Bytes equal characters only when every character is one byte.
    return f"strlen({sql}) = length({sql})"


def _digit(sql: str, position: int) -> str:
    return f"TRY_CAST(substr({sql}, {position}, 1) AS INTEGER)"


def _weighted_sum(sql: str, weights: tuple[int, ...], first_position: int = 1) -> str:
    return " + ".join(f"{w} * {_digit(sql, first_position + i)}" for i, w in enumerate(weights))


def _in(sql: str, values: tuple[str, ...] | list[str]) -> str:
    return f"{sql} IN ({', '.join(_lit(v) for v in values)})"


def _macro(name: str, body: str, parameters: str = "x") -> str:
    return f"CREATE OR REPLACE MACRO jd_{name}({parameters}) AS ({body})"


def _nhs_number() -> str:
    digits = _without(_TEXT, facts.GROUP_SEPARATORS)
    # (11 - r) % 11 is 0 for r = 0 and 10 for r = 1, which no digit equals: the spec's two special cases.
    check = f"(11 - ({_weighted_sum(digits, facts.NHS_WEIGHTS)}) % 11) % 11"
    return (
        f"CASE WHEN regexp_full_match({digits}, '[0-9]{{10}}') THEN "
        f"CASE WHEN {check} = {_digit(digits, 10)} AND NOT {_in(digits, facts.NHS_PLACEHOLDERS)} THEN {digits} END END"
    )


def _ni_number() -> str:
    compact = _without(_TEXT, facts.GROUP_SEPARATORS)
    number = f"upper({compact})"
    pattern = f"[{facts.NI_FIRST_LETTERS}][{facts.NI_SECOND_LETTERS}][0-9]{{6}}[{facts.NI_SUFFIXES}]"
    return (
        f"CASE WHEN regexp_full_match({number}, {_lit(pattern)}) THEN "
        f"CASE WHEN {_is_ascii(compact)} "
        f"AND NOT {_in(f'substr({number}, 1, 2)', facts.NI_REFUSED_PREFIXES)} THEN {number} END END"
    )


def _postcode() -> str:
    compact = _without(_TEXT, facts.BLANKS)
    code = f"upper({compact})"
    area = f"[{facts.POSTCODE_AREA_FIRST}]"
    area_2 = f"[{facts.POSTCODE_AREA_SECOND}]"
    outward = "|".join(
        (
            f"{area}[0-9]{{1,2}}",
            f"{area}{area_2}[0-9]{{1,2}}",
            f"{area}[0-9][{facts.POSTCODE_A9A_LETTER}]",
            f"{area}{area_2}[0-9][{facts.POSTCODE_AA9A_LETTER}]",
        )
    )
    girobank = facts.POSTCODE_GIROBANK.replace(" ", "")
    pattern = f"({outward})[0-9][{facts.POSTCODE_INWARD_LETTERS}]{{2}}|{girobank}"
    return (
        f"CASE WHEN regexp_full_match({code}, {_lit(pattern)}) THEN "
        f"CASE WHEN {_is_ascii(compact)} "
        f"THEN substr({code}, 1, length({code}) - 3) || ' ' || substr({code}, length({code}) - 2) END END"
    )


def _positive_integer(max_digits: int, text: str) -> str:
    pattern = f"0*[1-9][0-9]{{0,{max_digits - 1}}}"
    return f"CASE WHEN regexp_full_match({text}, {_lit(pattern)}) THEN ltrim({text}, '0') END"


def _company_number() -> str:
    compact = _without(_TEXT, facts.BLANKS)
    number = f"upper({compact})"
    prefixed = "|".join(
        (
            f"({'|'.join(facts.COMPANY_PREFIXES)})[0-9]{{6}}",
            f"({'|'.join(facts.COMPANY_SOCIETY_PREFIXES)})[0-9]{{5}}[A-Z]",
            f"{facts.COMPANY_PRE_PARTITION_PREFIX}[0-9]{{7}}",
        )
    )
    return (
        f"CASE WHEN regexp_full_match({number}, '[0-9]{{1,8}}|[A-Z][A-Z0-9][0-9]{{5}}[A-Z0-9]') THEN "
        f"CASE WHEN NOT {_is_ascii(compact)} THEN NULL "
        f"WHEN regexp_full_match({number}, '[0-9]{{1,8}}') "
        f"THEN CASE WHEN ltrim({number}, '0') <> '' THEN lpad({number}, 8, '0') END "
        f"WHEN regexp_full_match({number}, {_lit(prefixed)}) THEN {number} END END"
    )


def _vat_number() -> str:
    compact = _without(_TEXT, facts.GROUP_SEPARATORS)
    prefixes = "|".join(facts.VAT_PREFIXES)
    number = f"regexp_replace(upper({compact}), '^({prefixes})', '')"
    remainder = f"({_weighted_sum(number, facts.VAT_WEIGHTS)} + TRY_CAST(substr({number}, 8, 2) AS INTEGER)) % 97"
    remainders_9755 = ", ".join(str(r) for r in facts.VAT_9755_REMAINDERS)
    checksum_ok = (
        f"{remainder} = 0 OR (TRY_CAST(substr({number}, 1, 3) AS INTEGER) >= {facts.VAT_9755_FROM} "
        f"AND {remainder} IN ({remainders_9755}))"
    )
    gd_below = facts.GOVERNMENT_DEPARTMENT_BELOW
    ha_from = facts.HEALTH_AUTHORITY_FROM
    return (
        f"CASE WHEN regexp_full_match({number}, 'GD[0-9]{{3}}|HA[0-9]{{3}}|[0-9]{{9}}|[0-9]{{12}}') THEN "
        f"CASE WHEN NOT {_is_ascii(compact)} THEN NULL "
        f"WHEN substr({number}, 1, 2) = 'GD' "
        f"THEN CASE WHEN TRY_CAST(substr({number}, 3) AS INTEGER) < {gd_below} THEN {number} END "
        f"WHEN substr({number}, 1, 2) = 'HA' "
        f"THEN CASE WHEN TRY_CAST(substr({number}, 3) AS INTEGER) >= {ha_from} THEN {number} END "
        f"WHEN {checksum_ok} THEN {number} END END"
    )


def _utr() -> str:
    compact = _without(_TEXT, facts.GROUP_SEPARATORS)
    # One K may lead or trail the digits; a value with a K at both ends keeps both and fails.
    digits = f"regexp_replace(upper({compact}), '^K([0-9]{{10}})$|^([0-9]{{10}})K$', '\\1\\2')"
    lookup = f"substr({_lit(facts.UTR_CHECK_DIGITS)}, ({_weighted_sum(digits, facts.UTR_WEIGHTS, 2)}) % 11 + 1, 1)"
    return (
        f"CASE WHEN regexp_full_match({digits}, '[0-9]{{10}}') THEN "
        f"CASE WHEN substr({digits}, 1, 1) = {lookup} THEN {digits} END END"
    )


def _gss_code(text: str) -> str:
    pattern = f"[{facts.GSS_COUNTRY_LETTERS}][0-9]{{8}}"
    return (
        f"CASE WHEN regexp_full_match(upper({text}), {_lit(pattern)}) THEN "
        f"CASE WHEN {_is_ascii(text)} THEN upper({text}) END END"
    )


def _country_code(text: str) -> str:
    code = f"upper({text})"
    aliases = " ".join(f"WHEN {code} = {_lit(alias)} THEN {_lit(to)}" for alias, to in COUNTRY_ALIASES.items())
    return (
        f"CASE WHEN NOT {_is_ascii(text)} THEN NULL WHEN {_in(code, sorted(COUNTRY_CODES))} THEN {code} {aliases} END"
    )


def _iso_date(text: str) -> str:
    # TRY_CAST checks the calendar; year 0000 would be read as 1 BC.
    return (
        f"CASE WHEN regexp_full_match({text}, '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') "
        f"AND substr({text}, 1, 4) <> '0000' AND TRY_CAST({text} AS DATE) IS NOT NULL THEN {text} END"
    )


# Hours, minutes and seconds are range-checked here because DuckDB reads 24:00:00 as the next day.
_LOCAL_DATETIME_SHAPE = "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?"
_OFFSET_SHAPE = "([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"


def _local_datetime(text: str) -> str:
    """The date and time as written, as a TIMESTAMP; any offset is left out."""
    seconds = f"TRY_CAST(substr({text}, 1, 10) || ' ' || substr({text}, 12, 8) AS TIMESTAMP)"
    # Digits past microseconds are dropped, not rounded, as in the reference.
    micros = f"TRY_CAST(rpad(substr(regexp_extract({text}, '\\.([0-9]+)', 1), 1, 6), 6, '0') AS BIGINT)"
    return f"({seconds} + to_microseconds({micros}))"


def _utc_text(utc: str, text: str, shape: str) -> str:
    canonical = f"replace(strftime({utc}, '%Y-%m-%dT%H:%M:%S.%fZ'), '.000000Z', 'Z')"
    # Every part of the UTC time is a TRY_ or NULL-safe function, so it can be worked
    # out for any text, and testing it first lets DuckDB compute it once.
    return (
        f"CASE WHEN year({utc}) BETWEEN 1 AND 9999 THEN "
        f"CASE WHEN regexp_full_match({text}, {_lit(shape)}) AND substr({text}, 1, 4) <> '0000' "
        f"THEN {canonical} END END"
    )


def _iso_datetime(text: str) -> str:
    offset = f"regexp_extract({text}, '[+-][0-9]{{2}}:[0-9]{{2}}$')"
    sign = f"TRY_CAST(substr({offset}, 1, 1) || '1' AS INTEGER)"
    offset_minutes = (
        f"coalesce({sign} * (TRY_CAST(substr({offset}, 2, 2) AS INTEGER) * 60 "
        f"+ TRY_CAST(substr({offset}, 5, 2) AS INTEGER)), 0)"
    )
    utc = f"({_local_datetime(text)} - to_minutes({offset_minutes}))"
    # The offset is required: a time without one is only a moment once its zone is known.
    return _utc_text(utc, text, _LOCAL_DATETIME_SHAPE + _OFFSET_SHAPE)


def _iso_datetime_in_zone(text: str) -> str:
    """Like ``_iso_datetime``, but a value without an offset is a local time in ``zone``."""
    naive = _utc_text("utc", text, _LOCAL_DATETIME_SHAPE)
    # The UTC time is used twice; a one-element lambda computes it once.
    naive = f"list_transform([jd_local_to_utc({_local_datetime(text)}, zone)], lambda utc: {naive})[1]"
    local = f"regexp_full_match({text}, {_lit(_LOCAL_DATETIME_SHAPE)})"
    return f"CASE WHEN {local} THEN {naive} ELSE jd_trimmed_iso_datetime({text}) END"


def _offset_at(utc: str) -> str:
    """The zone's offset from UTC at the moment ``utc`` (a TIMESTAMP read as UTC), as an INTERVAL."""
    return f"(timezone(zone, timezone('UTC', {utc})) - {utc})"


def _local_to_utc() -> str:
    # A zone changes its offset at most once in two days (true of every UK rule), so the
    # offsets a day before and a day after are the only two a local time can be read with.
    # A reading is right when the zone has that offset at the moment it gives: both right
    # (and so different) means the local time happens twice (clocks going back), neither
    # means it never happens (clocks going forward). Both are refused rather than guessed.
    before = _offset_at("(local - INTERVAL 1 DAY)")
    after = _offset_at("(local + INTERVAL 1 DAY)")
    first, second = f"(local - {before})", f"(local - {after})"
    first_right, second_right = f"{_offset_at(first)} = {before}", f"{_offset_at(second)} = {after}"
    reading = (
        f"CASE WHEN {before} = {after} THEN {first} "
        f"WHEN {first_right} AND {second_right} THEN NULL "
        f"WHEN {first_right} THEN {first} WHEN {second_right} THEN {second} END"
    )
    # The argument is a whole expression (parsing the text, in ingest) that a macro would
    # copy into every use above; a one-element lambda computes it once.
    return f"list_transform([t], lambda local: {reading})[1]"


def _person_name() -> str:
    collapsed = f"trim(regexp_replace({_TEXT}, {_lit(_any_of(facts.BLANKS) + '+')}, ' ', 'g'), ' ')"
    # Mixed case means a person chose the capitals: kept. Only a blank name gives ''.
    typed_with_care = f"{collapsed} <> lower({collapsed}) AND {collapsed} <> upper({collapsed})"
    return f"nullif({_cased_name(collapsed, typed_with_care)}, '')"


def _cased_name(collapsed: str, typed_with_care: str) -> str:
    # One split at spaces and part separators alike, and one lambda over the parts: DuckDB
    # runs nested lambdas, or a lambda under a CASE, several times slower. Each part comes
    # with the separators either side of it and the part before it, so the word rules can
    # be read from it: a part between spaces (or the ends of the name) is a whole word.
    text = f"CASE WHEN {typed_with_care} THEN {collapsed} ELSE lower({collapsed}) END"
    separator = _lit(_any_of(" " + facts.NAME_PART_SEPARATORS))
    parts = f"string_split_regex({text}, {separator})"
    separators = f"regexp_extract_all({text}, {separator})"
    # A lambda recomputes anything it reads from outside for every part, so the one
    # answer per name is repeated into a list of its own.
    kept = f"list_resize([{typed_with_care}], len({parts}), {typed_with_care})"
    pieces = (
        f"list_zip({parts}, list_append({separators}, ''), list_prepend('', {parts}), "
        f"list_prepend('', {separators}), {kept}, true)"
    )
    part, ended_by, before, started_by, as_typed = (f"name_part[{i}]" for i in range(1, 6))
    particle = f"{ended_by} = ' ' AND {started_by} IN ('', ' ') AND {_in(part, facts.NAME_PARTICLES)}"
    numeral = f"{ended_by} = '' AND {started_by} = ' ' AND {_in(part, facts.NAME_ROMAN_NUMERALS)}"
    after_long_part = f"{_in(started_by, tuple(facts.NAME_APOSTROPHES))} AND length({before}) > 1"
    cased = (
        f"CASE WHEN {as_typed} OR ({particle}) OR ({after_long_part}) THEN {part} "
        f"WHEN {numeral} THEN upper({part}) ELSE {_capitalised(part)} END"
    )
    return f"array_to_string(list_transform({pieces}, lambda name_part: ({cased}) || {ended_by}), '')"


def _capitalised(part: str) -> str:
    return (
        f"CASE WHEN starts_with({part}, 'mc') AND length({part}) > 3 "
        f"THEN 'Mc' || upper(substr({part}, 3, 1)) || substr({part}, 4) "
        f"WHEN starts_with({part}, 'mac') AND {_in(f'substr({part}, 4)', facts.NAME_MAC_STEMS)} "
        f"THEN 'Mac' || upper(substr({part}, 4, 1)) || substr({part}, 5) "
        f"ELSE upper(left({part}, 1)) || substr({part}, 2) END"
    )


# Rules that start by trimming blanks from both ends, as a body over the trimmed text.
_ON_TRIMMED: dict[str, Callable[[str], str]] = {
    "uprn": lambda text: _positive_integer(facts.UPRN_MAX_DIGITS, text),
    "usrn": lambda text: _positive_integer(facts.USRN_MAX_DIGITS, text),
    "gss_code": _gss_code,
    "country_code": _country_code,
    "iso_date": _iso_date,
    "iso_datetime": _iso_datetime,
}

_BODIES: dict[str, Callable[[], str]] = {
    "nhs_number": _nhs_number,
    "ni_number": _ni_number,
    "postcode": _postcode,
    "company_number": _company_number,
    "vat_number": _vat_number,
    "utr": _utr,
    "person_name": _person_name,
    **{name: functools.partial(body, _trimmed(_TEXT)) for name, body in _ON_TRIMMED.items()},
}

_STATEMENTS: dict[str, str] = {name: _macro(name, body()) for name, body in _BODIES.items()}
# The same rules for text already trimmed of blanks at both ends (ingest trims every
# value once, first): skipping a second trim saves a regular expression per value.
_TRIMMED_STATEMENTS: dict[str, str] = {
    name: _macro(f"trimmed_{name}", body(_TEXT)) for name, body in _ON_TRIMMED.items()
}

#: Date-times whose values without an offset are local times in a zone the schema names;
#: installed with ``iso_datetime``.
ZONED_MACRO_SQL: list[str] = [
    _macro("local_to_utc", _local_to_utc(), "t, zone"),
    _macro("trimmed_iso_datetime_in", _iso_datetime_in_zone(_TEXT), "x, zone"),
    _macro("iso_datetime_in", f"jd_trimmed_iso_datetime_in({_trimmed(_TEXT)}, zone)", "x, zone"),
]

#: ``CREATE OR REPLACE MACRO`` statements, one per standard type, named ``jd_<type>``.
MACRO_SQL: list[str] = list(_STATEMENTS.values())


def trimmed_macro(name: str) -> str:
    """The macro to call for type ``name`` on text already trimmed of blanks at both ends.

    ``jd_trimmed_<name>`` where the rule trims first, else the type's own
    ``jd_<name>``; for trimmed text both give the same answer.
    """
    return f"jd_trimmed_{name}" if name in _ON_TRIMMED else f"jd_{name}"


def install_macros(con: duckdb.DuckDBPyConnection, only: Iterable[str] | None = None) -> None:
    """Define the ``jd_<type>`` macros on ``con``: all of them, or just the types in ``only``.

    Safe to call again; each statement replaces its macro.
    """
    for name in _STATEMENTS if only is None else only:
        con.execute(_STATEMENTS[name])
        if name in _TRIMMED_STATEMENTS:
            con.execute(_TRIMMED_STATEMENTS[name])
        if name == "iso_datetime":
            for statement in ZONED_MACRO_SQL:
                con.execute(statement)


def iso_datetime_in_zone(text: str, zone: str) -> str:
    """SQL for the UTC date-time of trimmed ISO 8601 text ``text``, a value without an offset
    being a local time in ``zone``; NULL when invalid, or when that local time is skipped or
    repeated as the clocks change. Needs the ``iso_datetime`` macros installed."""
    return f"jd_trimmed_iso_datetime_in({text}, {_lit(zone)})"


def local_to_utc(timestamp: str, zone: str) -> str:
    """SQL for the UTC TIMESTAMP of the local TIMESTAMP ``timestamp`` in ``zone``; NULL when
    that local time is skipped or repeated as the clocks change."""
    return f"jd_local_to_utc({timestamp}, {_lit(zone)})"
