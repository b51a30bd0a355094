"""Hypothesis strategies: valid values of each type, and values that are nearly valid.

Arbitrary text almost never lands near a valid NHS number or postcode, so the
interesting boundaries are reached by taking a generated valid value and
damaging it: a character changed, two swapped, one dropped, separators put in,
case flipped, a look-alike non-ASCII character slipped in.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from datetime import date, datetime

from hypothesis import strategies as st

from joinedup.standards import facts, generate

#: Characters the rules treat specially, plus look-alikes that must not be mistaken for them.
TRICKY = (
    string.digits
    + string.ascii_letters
    + " -'\t\n\u00a0.:+TZ"
    + "ıſİßẞ\u212a"  # case-map to ASCII letters, or map oddly
    + "１０٣"  # fullwidth and Arabic-Indic digits
    + "’é"
)


def _seeded(make: Callable[[random.Random], str]) -> st.SearchStrategy[str]:
    return st.integers(0, 2**32 - 1).map(lambda seed: make(random.Random(seed)))


@st.composite
def _damaged(draw: st.DrawFn, valid: st.SearchStrategy[str]) -> str:
    value = draw(valid)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(value)))
        action = draw(st.sampled_from(["replace", "insert", "delete", "swap", "case", "spaces"]))
        if action == "replace" and at < len(value):
            value = value[:at] + draw(st.sampled_from(TRICKY)) + value[at + 1 :]
        elif action == "insert":
            value = value[:at] + draw(st.sampled_from(TRICKY)) + value[at:]
        elif action == "delete" and at < len(value):
            value = value[:at] + value[at + 1 :]
        elif action == "swap" and at + 1 < len(value):
            value = value[:at] + value[at + 1] + value[at] + value[at + 2 :]
        elif action == "case":
            value = value.swapcase()
        elif action == "spaces":
            value = draw(st.sampled_from([" ", "  ", "\t", "\u00a0"])) + value + draw(st.sampled_from(["", " ", "\n"]))
    return value


def local_datetimes(start_year: int = 1, end_year: int = 9999) -> st.SearchStrategy[str]:
    """ISO 8601 date-times without an offset, in the forms we accept."""
    fractions = st.one_of(st.just(""), st.from_regex(r"\.[0-9]{1,9}", fullmatch=True))
    return st.builds(
        lambda moment, separator, fraction: (
            moment.date().isoformat() + separator + moment.time().isoformat("seconds") + fraction
        ),
        st.datetimes(datetime(start_year, 1, 1), datetime(end_year, 12, 31, 23, 59, 59)),
        st.sampled_from(["T", "t", " "]),
        fractions,
    )


def _iso_datetimes() -> st.SearchStrategy[str]:
    """Valid ISO 8601 date-times in the forms we accept: with an offset."""
    offsets = st.one_of(
        st.sampled_from(["Z", "z", "+00:00", "-00:00"]),
        st.tuples(st.sampled_from("+-"), st.integers(0, 23), st.integers(0, 59)).map(
            lambda t: f"{t[0]}{t[1]:02d}:{t[2]:02d}"
        ),
    )
    return st.builds(str.__add__, local_datetimes(), offsets)


def _names() -> st.SearchStrategy[str]:
    """Names built from letters and the pieces the casing rules look for, in any case."""
    letters = st.text(
        st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéÉłŁıİßçÇøØáÓ"), min_size=1, max_size=8
    )
    pieces = st.sampled_from(
        ["mc", "Mac", "MAC", "donald", "leod", "kie", "van", "DER", "de", "la", "ap", "iii", "IV", "o", "j", "st"]
    )
    part = st.one_of(letters, pieces, st.builds(str.__add__, pieces, letters), st.just(""))
    separator = st.sampled_from([" ", "  ", "\t", " - ", ".", ". ", *facts.NAME_HYPHENS, *facts.NAME_APOSTROPHES])
    name = st.lists(st.tuples(part, separator), min_size=1, max_size=5).map(
        lambda pairs: "".join(p + s for p, s in pairs)
    )
    # Mostly the one-case input the rules act on; the rest is kept as typed.
    return st.builds(
        lambda text, case: case(text), name, st.sampled_from([str.upper, str.lower, str.upper, lambda t: t])
    )


_VALID: dict[str, st.SearchStrategy[str]] = {
    name: _seeded(getattr(generate, name))
    for name in (
        "nhs_number", "ni_number", "postcode", "uprn", "usrn", "company_number",
        "vat_number", "utr", "gss_code", "country_code",
    )
}  # fmt: skip
# Valid forms the generators do not produce, so their rules get exercised too.
_VALID["vat_number"] = st.one_of(
    _VALID["vat_number"],
    st.builds(lambda number, branch: number + branch, _VALID["vat_number"], st.from_regex("[0-9]{3}", fullmatch=True)),
    st.from_regex("GD[0-4][0-9]{2}|HA[5-9][0-9]{2}", fullmatch=True),
)
_VALID["utr"] = st.one_of(_VALID["utr"], _VALID["utr"].map(lambda u: "K" + u), _VALID["utr"].map(lambda u: u + "K"))
_VALID["postcode"] = st.one_of(_VALID["postcode"], st.just("GIR 0AA"))
_VALID["country_code"] = st.one_of(
    _VALID["country_code"], st.sampled_from(["UK", "GB-ENG", "GB-SCT", "GB-WLS", "GB-NIR"])
)
_VALID["company_number"] = st.one_of(_VALID["company_number"], st.from_regex("[1-9][0-9]{0,6}", fullmatch=True))
_VALID["iso_date"] = st.dates().map(date.isoformat)
_VALID["iso_datetime"] = _iso_datetimes()
_VALID["person_name"] = _names()


def valid(type_name: str) -> st.SearchStrategy[str]:
    """Valid values, as they might be written: not always in canonical form."""
    return _VALID[type_name]


def near_valid(type_name: str) -> st.SearchStrategy[str]:
    """Valid values, damaged ones, and arbitrary text: what the SQL and the reference must agree on."""
    return st.one_of(_VALID[type_name], _damaged(_VALID[type_name]), st.text(max_size=30), st.text(TRICKY, max_size=16))
