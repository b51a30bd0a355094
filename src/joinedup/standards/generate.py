"""Valid, canonical values for synthetic data, drawn from a seeded ``random.Random``.

The same rng state always gives the same values. Check digits are computed
here directly (not found by trial against the reference) so that generating a
million rows stays cheap; the tests check every generator against the reference.
"""

from __future__ import annotations

import random

from joinedup.standards import facts
from joinedup.standards.countries import COUNTRY_CODES

#: Real outward codes across the four nations; the inward part is random, so the
#: postcode is well formed and plausible but may not be a delivery point.
OUTWARD_CODES = (
    "AB10", "AB25", "B1", "B33", "BA1", "BN1", "BS1", "BT1", "BT48", "CA1", "CB2", "CF10",
    "CF24", "CH1", "CM1", "CO1", "CR0", "CT1", "CV1", "DD1", "DE1", "DH1", "DL1", "DN1",
    "E1", "E14", "EC1A", "EC2R", "EH1", "EH12", "EX1", "G1", "G12", "GL1", "GU1", "HU1",
    "IV1", "KA1", "KY16", "L1", "LA1", "LD1", "LE1", "LL57", "LS1", "M1", "M60", "ME1",
    "MK9", "N1", "NE1", "NG1", "NP10", "NR1", "NW1", "OX1", "PA1", "PE1", "PH1", "PL1",
    "PO1", "PR1", "RG1", "S1", "SA1", "SE1", "SK1", "SO14", "SW1A", "SY23", "TD1", "TN1",
    "TR1", "W1A", "WC2N", "WR1", "YO1", "ZE1",
)  # fmt: skip

#: Geography types (GSS entity codes) that most datasets carry: local authorities,
#: wards, LSOAs and MSOAs, and their counterparts in the devolved nations.
GSS_ENTITIES = (
    "E01", "E02", "E05", "E06", "E07", "E08", "E09", "E10",
    "W01", "W02", "W05", "W06", "S01", "S02", "S12", "S13", "N09", "N21",
)  # fmt: skip

#: Company number prefixes in rough proportion to how often they appear.
_COMPANY_PREFIX_WEIGHTS = {"SC": 6, "OC": 4, "NI": 2, "SO": 1, "LP": 1, "SL": 1, "FC": 1, "RS": 1, "IP": 1}
#: One-letter suffixes of society numbers that came from the FCA's Mutuals Public Register.
_SOCIETY_SUFFIXES = "CR"
_COUNTRIES = sorted(COUNTRY_CODES)  # sorted: set order changes between runs


def _digits(rng: random.Random, count: int) -> str:
    return "".join(str(rng.randrange(10)) for _ in range(count))


def _weighted(digits: str, weights: tuple[int, ...]) -> int:
    return sum(w * int(d) for w, d in zip(weights, digits, strict=True))


def nhs_number(rng: random.Random) -> str:
    """An NHS number in the 999 range, which is never issued, so no synthetic row is a real patient's."""
    while True:
        body = "999" + _digits(rng, 6)
        check = (11 - _weighted(body, facts.NHS_WEIGHTS) % 11) % 11
        number = body + str(check)
        # 10: no valid number starts with this body; 9999999999 is a placeholder.
        if check != 10 and number not in facts.NHS_PLACEHOLDERS:
            return number


def ni_number(rng: random.Random) -> str:
    while True:
        prefix = rng.choice(facts.NI_FIRST_LETTERS) + rng.choice(facts.NI_SECOND_LETTERS)
        if prefix not in facts.NI_REFUSED_PREFIXES:
            return prefix + _digits(rng, 6) + rng.choice(facts.NI_SUFFIXES)


def postcode(rng: random.Random) -> str:
    inward_letters = rng.choice(facts.POSTCODE_INWARD_LETTERS) + rng.choice(facts.POSTCODE_INWARD_LETTERS)
    return f"{rng.choice(OUTWARD_CODES)} {rng.randrange(10)}{inward_letters}"


def uprn(rng: random.Random) -> str:
    return str(rng.randint(1, 10**facts.UPRN_MAX_DIGITS - 1))


def usrn(rng: random.Random) -> str:
    return str(rng.randint(1, 10**facts.USRN_MAX_DIGITS - 1))


def company_number(rng: random.Random) -> str:
    """Mostly England and Wales companies (8 digits), the rest with common prefixes."""
    if rng.random() < 0.8:
        number = rng.choice("01") + _digits(rng, 7)
        if number != "00000000":  # no company has number 0
            return number
    prefixes = list(_COMPANY_PREFIX_WEIGHTS)
    prefix = rng.choices(prefixes, weights=[_COMPANY_PREFIX_WEIGHTS[p] for p in prefixes])[0]
    if prefix in facts.COMPANY_SOCIETY_PREFIXES and rng.random() < 0.5:
        return prefix + _digits(rng, 5) + rng.choice(_SOCIETY_SUFFIXES)
    return prefix + _digits(rng, 6)


def vat_number(rng: random.Random) -> str:
    """A 9-digit VAT number, about half under the original mod 97 scheme and half under 9755."""
    body = str(rng.randint(1, 9)) + _digits(rng, 6)  # from 100 000 000, where both schemes apply
    total = _weighted(body, facts.VAT_WEIGHTS)
    offset = 55 if rng.random() < 0.5 else 0  # 9755: total + 55 is a multiple of 97
    return body + f"{(-total - offset) % 97:02d}"


def utr(rng: random.Random) -> str:
    body = _digits(rng, 9)
    return facts.UTR_CHECK_DIGITS[_weighted(body, facts.UTR_WEIGHTS) % 11] + body


def gss_code(rng: random.Random) -> str:
    return rng.choice(GSS_ENTITIES) + f"{rng.randint(1, 999):06d}"


def country_code(rng: random.Random) -> str:
    """Mostly GB, as in UK public sector data, otherwise any code."""
    return "GB" if rng.random() < 0.7 else rng.choice(_COUNTRIES)
