"""People as a legacy council or NHS system exports them: mostly right, messy, and ~2% wrong.

Three kinds of imperfection, kept apart:

* messiness that standardisation fixes and ingest must load: lower-case or
  unspaced postcodes, NHS numbers printed ``943 476 5919``, names in capitals
  or with stray spaces, blank optional values;
* planted errors, each recorded in the ground truth with the rule that catches it;
* ragged CSV rows (on request), a whole-row error recorded as rule ``columns``.

Clean values, planted errors, ragged rows and non-ASCII names each draw from
their own seeded stream, so for one seed every row's clean values stay the same
whatever the options: raising the error rate or asking for ragged rows changes
which rows are spoilt, not the people in the file.
"""

from __future__ import annotations

import bisect
import random
import re
from collections.abc import Iterator, Sequence
from datetime import date, timedelta
from typing import Any

from joinedup.standards import generate
from joinedup.synthetic.pools import NON_ASCII_FAMILY, NON_ASCII_GIVEN, Pools, pools
from joinedup.synthetic.records import ROW, PlantedError, Record, SyntheticRows, spread_indices
from joinedup.synthetic.schemas import REFERENCE_DATE
from joinedup.synthetic.spoil import (
    bad_gss_code,
    bad_postcode,
    impossible_date,
    messy_name,
    messy_postcode,
    seed_of,
    uk_date,
)

COLUMNS = (
    "person_id", "given_name", "family_name", "date_of_birth", "postcode",
    "nhs_number", "amount", "sex", "gss_code", "registered_on",
)  # fmt: skip
SEX_CODES = ("M", "F", "X", "U")
FIRST_PERSON_ID = 100_001
#: The earliest date of birth the schema accepts.
EARLIEST_BIRTH = date(1900, 1, 1)
#: How the planted errors are spread across kinds: kind -> (column, rule, weight).
ERROR_KINDS: dict[str, tuple[str, str, float]] = {
    "check_digit": ("nhs_number", "nhs_number", 2.0),
    "malformed_postcode": ("postcode", "postcode", 2.0),
    "impossible_date": ("date_of_birth", "date", 1.0),
    "uk_date_format": ("date_of_birth", "date", 1.0),
    "non_numeric_amount": ("amount", "number", 1.5),
    "sex_not_in_enum": ("sex", "enum", 1.0),
    "malformed_gss_code": ("gss_code", "gss_code", 1.0),
    "missing_given_name": ("given_name", "required", 0.75),
    "missing_family_name": ("family_name", "required", 0.75),
    "duplicate_id": ("person_id", "primaryKey", 1.0),
    "future_registration": ("registered_on", "maximum", 1.0),
}
#: Share of bad rows that get a second error, in another column.
SECOND_ERROR = 0.15
_REGISTRATION_FROM = date(1998, 4, 1)
_OLDEST_DAYS = 36_500
_NON_ASCII_RATE = 0.02
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def people_columns(*, address: bool = False) -> tuple[str, ...]:
    if not address:
        return COLUMNS
    at = COLUMNS.index("postcode")
    return (*COLUMNS[:at], "address_line", *COLUMNS[at:])


def generate_people(
    rows: int,
    *,
    seed: int = 0,
    error_rate: float = 0.02,
    ragged_rows: int = 0,
    non_ascii: bool = False,
    address: bool = False,
    today: date = REFERENCE_DATE,
) -> SyntheticRows:
    """``rows`` people, about ``error_rate`` of them with planted errors.

    ``ragged_rows`` rows (CSV only) get one field too many or too few.
    ``non_ascii`` mixes in names such as Siobhán, Zoë and O’Brien (curly apostrophe).
    ``address`` adds an ``address_line`` column before the postcode.
    ``today`` is the registration cut-off: later dates are planted errors.
    """
    if rows < 0:
        raise ValueError("rows must be zero or more")
    if not 0.0 <= error_rate <= 1.0:
        raise ValueError("error_rate must be between 0 and 1")
    columns = people_columns(address=address)

    def make() -> Iterator[Record]:
        return _People(seed, columns, rows, today, non_ascii).records(error_rate, ragged_rows)

    return SyntheticRows("people", columns, rows, make)


def people_schema(*, today: date = REFERENCE_DATE, address: bool = False) -> dict[str, Any]:
    """The schema the generated people follow, in joinedup's (Table Schema based) format."""
    fields: list[dict[str, Any]] = [
        {
            "name": "person_id", "type": "integer", "title": "Person ID",
            "description": "The source system's identifier for the person.",
            "constraints": {"required": True, "unique": True, "minimum": 1},
            "personal": True, "category": "identifier",
        },
        {
            "name": "given_name", "type": "string", "format": "person_name", "title": "Given name",
            "constraints": {"required": True}, "personal": True, "category": "name",
        },
        {
            "name": "family_name", "type": "string", "format": "person_name", "title": "Family name",
            "constraints": {"required": True}, "personal": True, "category": "name",
        },
        {
            "name": "date_of_birth", "type": "date", "title": "Date of birth",
            "constraints": {"required": True, "minimum": EARLIEST_BIRTH.isoformat(), "maximum": today.isoformat()},
            "personal": True, "category": "date_of_birth",
        },
        {"name": "postcode", "type": "postcode", "title": "Postcode", "personal": True, "category": "address"},
        {"name": "nhs_number", "type": "nhs_number", "title": "NHS number", "personal": True, "category": "identifier"},
        {
            "name": "amount", "type": "number", "title": "Amount owed (£)",
            "description": "Money, in pounds to two decimal places.",
            "personal": True, "category": "financial",
        },
        {
            "name": "sex", "type": "string", "title": "Sex",
            "description": "M male, F female, X indeterminate, U not known.",
            "constraints": {"required": True, "enum": list(SEX_CODES)},
            "personal": True, "category": "demographic",
        },
        {
            "name": "gss_code", "type": "gss_code", "title": "Local authority (GSS code)",
            "description": "ONS code of the local authority (E06, E07, E08, E09, W06 or S12).",
            "constraints": {"required": True},
        },
        {
            "name": "registered_on", "type": "date", "title": "Date registered",
            "constraints": {"required": True, "maximum": today.isoformat()},
        },
    ]  # fmt: skip
    if address:
        at = next(i for i, f in enumerate(fields) if f["name"] == "postcode")
        fields.insert(
            at,
            {
                "name": "address_line", "type": "string", "title": "Address line",
                "personal": True, "category": "address",
            },
        )  # fmt: skip
    return {
        "title": "People (synthetic)",
        "description": f"Synthetic people generated by joinedup.synthetic; registrations up to {today.isoformat()}.",
        "fields": fields,
        "primaryKey": ["person_id"],
        "missingValues": [""],
    }


class _People:
    def __init__(self, seed: int, columns: tuple[str, ...], rows: int, today: date, non_ascii: bool) -> None:
        self.seed = seed
        self.columns = columns
        self.at = {name: i for i, name in enumerate(columns)}
        self.rows = rows
        self.today = today
        self.non_ascii = non_ascii
        self.pools: Pools = pools(seed)
        self.duplicated: set[int] = set()
        self.ragged: frozenset[int] = frozenset()
        self.shapes = random.Random(0)  # replaced, seeded, by records()
        self.today_ordinal = today.toordinal()
        self.address_at = self.at.get("address_line")

    def records(self, error_rate: float, ragged_rows: int) -> Iterator[Record]:
        rng = random.Random(seed_of("people", self.seed))
        errs = random.Random(seed_of("people-errors", self.seed))
        names = random.Random(seed_of("people-non-ascii", self.seed))
        self.shapes = random.Random(seed_of("people-ragged", self.seed))
        self.ragged = spread_indices(self.shapes, self.rows, ragged_rows)
        self.duplicated = set()
        kinds = list(ERROR_KINDS)
        weights = [ERROR_KINDS[k][2] for k in kinds]
        for i in range(self.rows):
            values = self.row(i, rng, names)
            # One draw per row whatever happens, so the stream stays aligned across options.
            planted = errs.random() < error_rate
            if i in self.ragged:
                yield self.make_ragged(i, values, self.shapes)
            elif planted:
                yield Record(i, *self.plant(i, values, errs, kinds, weights))
            else:
                yield Record(i, tuple(values))

    # -- clean (if messy) rows ------------------------------------------------------

    def row(self, i: int, rng: random.Random, names: random.Random) -> list[str]:
        p = self.pools
        # Indexing by random() is several times cheaper than choice() and randrange(),
        # which matters at ten million rows; the draws are just as uniform.
        draw = rng.random
        r = draw()
        sex = "F" if r < 0.49 else "M" if r < 0.975 else "U" if r < 0.993 else "X"
        given_pool = p.female if sex == "F" or (sex in "UX" and r > 0.99) else p.male
        given = given_pool[int(draw() * len(given_pool))]
        family = p.surnames[int(draw() * len(p.surnames))]
        if self.non_ascii:
            if names.random() < _NON_ASCII_RATE:
                given = names.choice(NON_ASCII_GIVEN)
            if names.random() < _NON_ASCII_RATE:
                family = names.choice(NON_ASCII_FAMILY)
        today = self.today_ordinal
        born = today - int(draw() * _OLDEST_DAYS)
        first = max(born, _REGISTRATION_FROM.toordinal())
        registered = first + int(draw() * (today + 1 - first))
        nhs = generate.nhs_number(rng)
        r = draw()
        if r < 0.03:
            nhs = ""  # not every record has been matched to the NHS spine
        elif r < 0.18:
            nhs = f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}"
        amount = rng.lognormvariate(4.0, 1.3)
        authority = bisect.bisect(p.local_authority_weights, draw() * p.local_authority_weights[-1])
        values = [
            str(FIRST_PERSON_ID + i),
            messy_name(given, draw()),
            messy_name(family, draw()),
            date.fromordinal(born).isoformat(),
            messy_postcode(p.postcodes[int(draw() * len(p.postcodes))], draw()),
            nhs,
            "" if draw() < 0.02 else f"{amount:.2f}",
            sex,
            p.local_authorities[authority],
            date.fromordinal(registered).isoformat(),
        ]
        if self.address_at is not None:
            values.insert(self.address_at, _address_line(rng, p))
        return values

    # -- planted errors ------------------------------------------------------------

    def plant(
        self, i: int, values: list[str], errs: random.Random, kinds: list[str], weights: list[float]
    ) -> tuple[tuple[str, ...], tuple[PlantedError, ...]]:
        chosen = [self.pick(i, errs, kinds, weights, ())]
        if errs.random() < SECOND_ERROR:
            chosen.append(self.pick(i, errs, kinds, weights, chosen))
        planted = []
        for kind in chosen:
            column, rule, _ = ERROR_KINDS[kind]
            value = getattr(self, f"_{kind}")(i, values, errs)
            values[self.at[column]] = value
            planted.append(PlantedError(column, rule, kind, value))
        return tuple(values), tuple(planted)

    def pick(self, i: int, errs: random.Random, kinds: list[str], weights: list[float], taken: Sequence[str]) -> str:
        used = {ERROR_KINDS[k][0] for k in taken}
        while True:
            kind = errs.choices(kinds, weights)[0]
            # The first row has no earlier id to repeat.
            if ERROR_KINDS[kind][0] not in used and not (kind == "duplicate_id" and i == 0):
                return kind

    def _check_digit(self, i: int, values: list[str], errs: random.Random) -> str:
        valid = values[self.at["nhs_number"]].replace(" ", "") or generate.nhs_number(errs)
        # Only one check digit is right, so any other is wrong.
        wrong = valid[:9] + str((int(valid[9]) + errs.randint(1, 9)) % 10)
        return f"{wrong[:3]} {wrong[3:6]} {wrong[6:]}" if errs.random() < 0.3 else wrong

    def _malformed_postcode(self, i: int, values: list[str], errs: random.Random) -> str:
        return bad_postcode(errs)

    def _impossible_date(self, i: int, values: list[str], errs: random.Random) -> str:
        return impossible_date(int(values[self.at["date_of_birth"]][:4]), errs)

    def _uk_date_format(self, i: int, values: list[str], errs: random.Random) -> str:
        return uk_date(values[self.at["date_of_birth"]])

    def _non_numeric_amount(self, i: int, values: list[str], errs: random.Random) -> str:
        pounds = errs.lognormvariate(4.0, 1.3)
        choices = [f"£{pounds:.2f}", "n/a", "N/A", f"{pounds + 1000:,.2f}", "TBC", f"{pounds:.2f} CR"]
        value = errs.choice(choices)
        assert _NUMBER.fullmatch(value) is None
        return value

    def _sex_not_in_enum(self, i: int, values: list[str], errs: random.Random) -> str:
        return errs.choice(("Male", "Female", "f", "m", "9", "N", "Unknown"))

    def _malformed_gss_code(self, i: int, values: list[str], errs: random.Random) -> str:
        return bad_gss_code(values[self.at["gss_code"]], errs)

    def _missing_given_name(self, i: int, values: list[str], errs: random.Random) -> str:
        return errs.choice(("", "", " "))

    def _missing_family_name(self, i: int, values: list[str], errs: random.Random) -> str:
        return errs.choice(("", "", " "))

    def _duplicate_id(self, i: int, values: list[str], errs: random.Random) -> str:
        # Repeat an id an earlier row really holds: not one already replaced, nor one
        # on a ragged row, which ingest cannot read and so cannot match.
        for _ in range(20):
            j = errs.randrange(i)
            if j not in self.duplicated and j not in self.ragged:
                break
        else:
            j = 0
        self.duplicated.add(i)
        return str(FIRST_PERSON_ID + j)

    def _future_registration(self, i: int, values: list[str], errs: random.Random) -> str:
        return (self.today + timedelta(days=errs.randint(1, 730))).isoformat()

    # -- ragged rows ---------------------------------------------------------------

    def make_ragged(self, i: int, values: list[str], shapes: random.Random) -> Record:
        if shapes.random() < 0.5:
            # An amount over a thousand written with a thousands comma and no quotes.
            at = self.at["amount"]
            amount = f"{shapes.uniform(1000, 9999):,.2f}"
            fields = [*values[:at], *amount.split(","), *values[at + 1 :]]
            kind = "too_many_fields"
        else:
            fields = values[:-1]  # the line cut off before its last field
            kind = "too_few_fields"
        return Record(i, tuple(fields), (PlantedError(ROW, "columns", kind, ",".join(fields)),))


def _address_line(rng: random.Random, p: Pools) -> str:
    street = f"{rng.randint(1, 250)} {rng.choice(p.streets)}"
    # A comma inside a value makes the CSV writer quote it, as real exports must.
    return f"Flat {rng.randint(1, 24)}, {street}" if rng.random() < 0.08 else street
