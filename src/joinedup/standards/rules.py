"""The registry of standard types: what each is called, looks like and is stored as."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from joinedup.standards import reference


@dataclass(frozen=True)
class StandardType:
    name: str
    title: str
    #: One line describing a valid value, for error messages.
    expected: str
    #: A valid value in canonical form.
    example: str
    #: The DuckDB macro, ``jd_<name>``.
    macro: str
    #: What ingest stores: "VARCHAR" or "BIGINT".
    sql_type: str
    #: Default UK GDPR data category of a column holding this type; None when not personal by itself.
    personal_category: str | None
    #: The pure-Python rule: canonical form, or None when invalid.
    reference: Callable[[str], str | None]


def _type(
    name: str,
    title: str,
    expected: str,
    example: str,
    personal_category: str | None,
    sql_type: str = "VARCHAR",
) -> StandardType:
    return StandardType(
        name=name,
        title=title,
        expected=expected,
        example=example,
        macro=f"jd_{name}",
        sql_type=sql_type,
        personal_category=personal_category,
        reference=getattr(reference, f"canonical_{name}"),
    )


_ALL = (
    _type(
        "nhs_number",
        "NHS number",
        "10 digits with a valid mod 11 check digit, not ten of one digit",
        "9434765919",
        "identifier",
    ),
    _type(
        "ni_number",
        "National Insurance number",
        "2 allocated prefix letters, 6 digits and a suffix A-D, e.g. AB123456C",
        "AB123456C",
        "identifier",
    ),
    _type(
        "postcode",
        "UK postcode",
        "an outward code, a space, a digit and two letters, e.g. SW1A 1AA",
        "SW1A 1AA",
        "address",
    ),
    _type(
        "uprn", "UPRN", "a whole number from 1 to 999999999999 (up to 12 digits)", "100023336956", "address", "BIGINT"
    ),
    _type("usrn", "USRN", "a whole number from 1 to 99999999 (up to 8 digits)", "8400709", None, "BIGINT"),
    _type(
        "company_number",
        "Companies House number",
        "8 digits; a Companies House prefix such as SC, NI or OC and 6 digits; or a society number such as IP00525R",
        "SC123456",
        None,
    ),
    _type(
        "vat_number",
        "UK VAT number",
        "9 digits (or 12 with a branch) with a valid mod 97 check, or GD000-GD499 or HA500-HA999",
        "980780684",
        None,
    ),
    _type(
        "utr", "Unique Taxpayer Reference", "10 digits whose first digit is the check digit", "1955839661", "identifier"
    ),
    _type(
        "gss_code",
        "ONS GSS code",
        "a country letter (E, W, S, N, K, L or M) and 8 digits, e.g. E06000001",
        "E06000001",
        None,
    ),
    _type(
        "country_code",
        "country code",
        "an ISO 3166-1 alpha-2 code or GB-ENG, GB-SCT, GB-WLS or GB-NIR",
        "GB",
        None,
    ),
    _type("iso_date", "ISO 8601 date", "a calendar date written YYYY-MM-DD", "2017-08-09", None),
    _type(
        "iso_datetime",
        "ISO 8601 date-time",
        "YYYY-MM-DDThh:mm:ss with optional fractional seconds, then Z "
        "or +hh:mm (a schema can declare the zone of times without one)",
        "2017-08-09T13:58:07Z",
        None,
    ),
    _type("person_name", "person's name", "any text that is not blank", "O'Brien-Smith", "name"),
)

STANDARD_TYPES: dict[str, StandardType] = {t.name: t for t in _ALL}

#: Types a schema field can declare as its ``type``; the rest are formats of Table Schema types.
UK_TYPES: tuple[str, ...] = tuple(n for n in STANDARD_TYPES if n not in ("iso_date", "iso_datetime", "person_name"))
