"""Worked examples for every type: what is accepted, its canonical form, and what is refused and why.

Each example is checked against both the Python reference and the SQL macro.
"""

from __future__ import annotations

import pytest

from joinedup.standards import STANDARD_TYPES
from tests.standards.conftest import RunMacro

VALID: dict[str, list[tuple[str, str]]] = {
    "nhs_number": [
        ("9434765919", "9434765919"),
        ("943 476 5919", "9434765919"),
        ("943-476-5919", "9434765919"),
        (" 943\u00a0476\u00a05919\t", "9434765919"),
        ("4000000020", "4000000020"),  # 11 - remainder is 11, so the check digit is 0
        ("0000000019", "0000000019"),  # nearly a placeholder, but a real number shape
    ],
    "ni_number": [
        ("AB123456C", "AB123456C"),
        ("ab 12 34 56 c", "AB123456C"),
        ("AB-12-34-56-C", "AB123456C"),
        ("OA123456D", "OA123456D"),  # O is allowed first, just not second
        ("ZY000000A", "ZY000000A"),
        ("CE123456A", "CE123456A"),  # C and the administrative prefixes' letters are fine elsewhere
        ("PA123456B", "PA123456B"),
        ("MA123456C", "MA123456C"),
    ],
    "postcode": [
        ("SW1A 1AA", "SW1A 1AA"),
        ("sw1a1aa", "SW1A 1AA"),
        ("  ec1a   1bb ", "EC1A 1BB"),
        ("W1A 0AX", "W1A 0AX"),
        ("M1 1AE", "M1 1AE"),
        ("B33 8TH", "B33 8TH"),
        ("CR2 6XH", "CR2 6XH"),
        ("DN55 1PT", "DN55 1PT"),
        ("BT48\t6DQ", "BT48 6DQ"),
        ("gir 0aa", "GIR 0AA"),
    ],
    "uprn": [
        ("100023336956", "100023336956"),
        (" 42 ", "42"),
        ("000000123", "123"),
        ("999999999999", "999999999999"),
    ],
    "usrn": [
        ("8400709", "8400709"),
        ("00000001", "1"),
        ("99999999", "99999999"),
    ],
    "company_number": [
        ("01234567", "01234567"),
        ("123456", "00123456"),  # leading zeros lost in a spreadsheet
        ("1", "00000001"),
        ("sc123456", "SC123456"),
        ("OC 123456", "OC123456"),
        ("R0123456", "R0123456"),  # Northern Ireland before partition: R and 7 digits
        ("R1234567", "R1234567"),
        ("NI012345", "NI012345"),
        ("ip00525r", "IP00525R"),  # registered societies keep the FCA's letter suffix
        ("RS00592C", "RS00592C"),
        ("RS007417", "RS007417"),
        ("SP02345R", "SP02345R"),
        ("NP00123C", "NP00123C"),
        ("CE001234", "CE001234"),
        ("GN000123", "GN000123"),
        ("SZ000456", "SZ000456"),
        ("NV000012", "NV000012"),
        ("OE012345", "OE012345"),
    ],
    "vat_number": [
        ("980780684", "980780684"),
        ("GB 980 7806 84", "980780684"),
        ("gb980780684", "980780684"),
        ("XI980780684", "980780684"),
        ("980780684001", "980780684001"),  # branch 001
        ("100000034", "100000034"),  # 9755 scheme: total + 55 is a multiple of 97
        ("100000047", "100000047"),  # total = 55 mod 97, accepted as python-stdnum does
        ("001000091", "001000091"),  # below 100 000 000: original scheme only
        ("GD001", "GD001"),
        ("gbgd499", "GD499"),
        ("HA500", "HA500"),
        ("ha999", "HA999"),
    ],
    "utr": [
        ("1955839661", "1955839661"),
        ("19558 39661", "1955839661"),
        ("K1955839661", "1955839661"),
        ("1955839661k", "1955839661"),
    ],
    "gss_code": [
        ("E06000001", "E06000001"),
        ("e06000001", "E06000001"),
        (" W06000015 ", "W06000015"),
        ("S12000033", "S12000033"),
        ("N09000001", "N09000001"),
        ("K02000001", "K02000001"),
        ("M99999999", "M99999999"),
    ],
    "country_code": [
        ("GB", "GB"),
        ("gb", "GB"),
        ("UK", "GB"),
        ("uk", "GB"),
        (" fr ", "FR"),
        ("AX", "AX"),
        ("gb-eng", "GB-ENG"),
        ("GB-SCT", "GB-SCT"),
        ("GB-WLS", "GB-WLS"),
        ("GB-NIR", "GB-NIR"),
    ],
    "iso_date": [
        ("2017-08-09", "2017-08-09"),
        (" 2017-08-09 ", "2017-08-09"),
        ("2016-02-29", "2016-02-29"),
        ("2000-02-29", "2000-02-29"),
        ("0001-01-01", "0001-01-01"),
        ("9999-12-31", "9999-12-31"),
    ],
    "iso_datetime": [
        ("2017-08-09T13:58:07Z", "2017-08-09T13:58:07Z"),
        ("2017-08-09 13:58:07+00:00", "2017-08-09T13:58:07Z"),
        ("2017-08-09t13:58:07z", "2017-08-09T13:58:07Z"),
        ("2017-08-09T13:58:07+01:00", "2017-08-09T12:58:07Z"),
        ("2017-08-09T13:58:07-00:00", "2017-08-09T13:58:07Z"),
        ("2017-08-09T13:58:07.5Z", "2017-08-09T13:58:07.500000Z"),
        ("2017-08-09T13:58:07.000Z", "2017-08-09T13:58:07Z"),
        ("2017-08-09T13:58:07.1234567Z", "2017-08-09T13:58:07.123456Z"),  # truncated, not rounded
        ("2017-08-09T23:30:00-01:00", "2017-08-10T00:30:00Z"),
        ("2016-12-31T23:59:59-05:30", "2017-01-01T05:29:59Z"),
        ("2017-01-01T00:15:00+01:00", "2016-12-31T23:15:00Z"),
    ],
    "person_name": [
        ("  O'BRIEN-SMITH ", "O'Brien-Smith"),
        ("MCDONALD", "McDonald"),
        ("McDonald", "McDonald"),  # mixed case is kept as typed
        ("Mcdonald", "Mcdonald"),
        ("o'BRIEN-smith", "o'BRIEN-smith"),  # even when it looks odd: a person typed it
        ("mary  ann\tjones", "Mary Ann Jones"),
        ("d’arcy", "D’Arcy"),
        ("ÉLODIE", "Élodie"),
        ("ŁUKASZ NOWAK", "Łukasz Nowak"),
        ("ŁUKASZ nowak", "ŁUKASZ nowak"),  # mixed across the whole value: kept
        ("x", "X"),
        ("--", "--"),  # odd, but not blank: only a blank name is invalid
    ],
}

INVALID: dict[str, list[tuple[str, str]]] = {
    "nhs_number": [
        ("9434765918", "wrong check digit"),
        ("4000000080", "check digit would be 10"),
        ("943476591", "9 digits"),
        ("94347659190", "11 digits"),
        ("94347659l9", "a letter"),
        ("943.476.5919", "dots are not separators"),
        ("９４３４７６５９１９", "fullwidth digits"),
        ("", "empty"),
        *((digit * 10, "repeated-digit placeholder") for digit in "0123456789"),
        ("000 000 0000", "placeholder, spaced"),
    ],
    "ni_number": [
        ("DA123456A", "first letter D"),
        ("QQ123456C", "first letter Q"),
        ("AF123456A", "second letter F"),
        ("AO123456A", "second letter O"),
        ("BG123456A", "unallocated prefix BG"),
        ("GB123456A", "unallocated prefix GB"),
        ("ZZ123456A", "unallocated prefix ZZ"),
        ("TN123456A", "unallocated prefix TN"),
        *(
            (f"{prefix}123456A", f"HMRC administrative prefix {prefix}")
            for prefix in ("CR", "MW", "NC", "PP", "PY", "PZ")
        ),
        ("pz 12 34 56 a", "administrative prefix, any case"),
        ("AB123456E", "suffix E"),
        ("AB123456", "no suffix"),
        ("AB12345C", "5 digits"),
        ("ĀB123456C", "non-ASCII letter"),
    ],
    "postcode": [
        ("QA1 1AA", "first letter Q"),
        ("XA1 1AA", "first letter X"),
        ("AI1 1AA", "second letter I"),
        ("AZ1 1AA", "second letter Z"),
        ("W1I 1AA", "I in A9A position"),
        ("EC1C 1AA", "C in AA9A position"),
        ("SW1A 1AC", "inward letter C"),
        ("SW1A 1IA", "inward letter I"),
        ("SW1A 1A", "inward too short"),
        ("SW1A 1AAA", "inward too long"),
        ("SW123 1AA", "three district digits"),
        ("1W1A 1AA", "starts with a digit"),
        ("SW1A-1AA", "hyphen"),
        ("ſW1A 1AA", "non-ASCII look-alike"),
        ("", "empty"),
    ],
    "uprn": [
        ("0", "zero"),
        ("1000000000000", "13 digits"),
        ("-5", "negative"),
        ("12 34", "space inside"),
        ("1.0", "decimal"),
        ("１２３", "fullwidth digits"),
        ("", "empty"),
    ],
    "usrn": [
        ("0", "zero"),
        ("100000000", "9 digits"),
        ("A1", "letter"),
    ],
    "company_number": [
        ("0", "zero"),
        ("00000000", "zero"),
        ("123456789", "9 digits"),
        ("XX123456", "unknown prefix"),
        ("SC12345", "prefix and 5 digits"),
        ("SC1234567", "prefix and 7 digits"),
        ("SC-123456", "hyphen"),
        ("ſC123456", "non-ASCII look-alike"),
        ("SC12345R", "letter suffix on a company, not a society"),
        ("IP0052R5", "society letter not at the end"),
        ("IP005255R", "society: 6 digits and a letter"),
        ("IP00525", "society: 5 digits, no letter"),
        ("RS00592Ç", "non-ASCII suffix"),
        ("R012345", "R and 6 digits"),
        ("R01234567", "R and 8 digits"),
        ("RX123456", "unknown prefix starting with R"),
    ],
    "vat_number": [
        ("980780685", "wrong check digits"),
        ("001000036", "9755 scheme below 100 000 000"),
        ("98078068", "8 digits"),
        ("9807806840", "10 digits"),
        ("GD500", "government department from 500"),
        ("HA499", "health authority below 500"),
        ("GD01", "GD and 2 digits"),
        ("DE980780684", "another country's prefix"),
        ("980.7806.84", "dots are not separators"),
        ("GD888800197", "EU form of GD numbers is not accepted"),
    ],
    "utr": [
        ("2955839661", "wrong check digit"),
        ("195583966", "9 digits"),
        ("19558396611", "11 digits"),
        ("K1955839661K", "K at both ends"),
        ("KK1955839661", "two Ks"),
    ],
    "gss_code": [
        ("X06000001", "unknown country letter"),
        ("E0600001", "8 characters"),
        ("E060000012", "10 characters"),
        ("E06 000001", "space inside"),
        ("6E0000001", "starts with a digit"),
    ],
    "country_code": [
        ("XK", "user-assigned, not ISO"),
        ("EU", "exceptionally reserved, not a country"),
        ("GBR", "alpha-3"),
        ("GB-XXX", "not a UK nation"),
        ("GB ENG", "space instead of hyphen"),
        ("G", "one letter"),
        ("", "empty"),
    ],
    "iso_date": [
        ("2017-02-29", "not a leap year"),
        ("1900-02-29", "century, not a leap year"),
        ("2017-13-01", "month 13"),
        ("2017-00-10", "month 0"),
        ("2017-04-31", "31 April"),
        ("0000-01-01", "year 0"),
        ("09/08/2017", "UK form: only with a declared format"),
        ("2017-8-9", "no leading zeros"),
        ("20170809", "basic format"),
        ("2017-08-09T00:00:00", "a date-time"),
    ],
    "iso_datetime": [
        ("2017-08-09T24:00:00Z", "hour 24"),
        ("2017-08-09T13:60:00Z", "minute 60"),
        ("2017-08-09T13:58:60Z", "leap second"),
        ("2017-02-29T00:00:00Z", "not a date"),
        ("2017-08-09T13:58Z", "no seconds"),
        ("2017-08-09T13:58:07+0100", "offset without colon"),
        ("2017-08-09T13:58:07+24:00", "offset of 24 hours"),
        ("2017-08-09T13:58:07+01:60", "offset minute 60"),
        ("2017-08-09T13:58:07.Z", "empty fraction"),
        ("2017-08-09T13:58:07.1234567890Z", "10 fraction digits"),
        ("9999-12-31T23:30:00-01:00", "after year 9999 in UTC"),
        ("0001-01-01T00:30:00+01:00", "before year 1 in UTC"),
        ("2017-08-09", "a date"),
        ("09/08/2017 13:58:07", "UK form"),
        ("2017-08-09 13:58:07", "no offset: a local time, not a moment, until its zone is known"),
        ("2017-08-09T13:58:07.5", "no offset, with a fraction"),
    ],
    "person_name": [
        ("", "empty"),
        ("   ", "blank"),
        ("\t\n\u00a0", "blank"),
    ],
}


def _cases(table: dict[str, list[tuple[str, str]]]) -> list[object]:
    return [
        pytest.param(type_name, value, other, id=f"{type_name}-{value!r}")
        for type_name, rows in table.items()
        for value, other in rows
    ]


def test_every_type_has_examples() -> None:
    assert set(VALID) == set(STANDARD_TYPES) == set(INVALID)


@pytest.mark.parametrize(("type_name", "value", "canonical"), _cases(VALID))
def test_valid_values_get_their_canonical_form(type_name: str, value: str, canonical: str, run_macro: RunMacro) -> None:
    assert STANDARD_TYPES[type_name].reference(value) == canonical
    assert run_macro(type_name, [value]) == [canonical]


@pytest.mark.parametrize(("type_name", "value", "reason"), _cases(INVALID))
def test_invalid_values_are_refused(type_name: str, value: str, reason: str, run_macro: RunMacro) -> None:
    assert STANDARD_TYPES[type_name].reference(value) is None, reason
    assert run_macro(type_name, [value]) == [None], reason


@pytest.mark.parametrize("type_name", list(STANDARD_TYPES))
def test_null_in_null_out(type_name: str, run_macro: RunMacro) -> None:
    assert STANDARD_TYPES[type_name].reference(None) is None  # type: ignore[arg-type]
    assert run_macro(type_name, [None]) == [None]
