"""The linkage model: UK-aware comparisons in SQL, blocking rules and prior m probabilities, for Splink.

Everything here is SQL text over the prepared columns (see :mod:`joinedup.linkage.prepare`),
so another Splink backend (Spark) runs the same model.

Why priors for m: a model that learns m by unsupervised EM from data full of
households learns "same surname and address" as "same person". m starts from
these values (how often each level occurs among true matches in UK
administrative data, with typos, moves and nicknames); u is estimated from the
data by random sampling, and the prior probability from exact identifiers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from joinedup.linkage.names import TABLE as NAME_GROUPS  # noqa: F401  (documents where given_groups come from)


@dataclass(frozen=True)
class Level:
    label: str
    sql: str
    m: float
    #: u before the data says otherwise: kept for a level too rare among random pairs to estimate (small datasets).
    u: float = 0.0
    tf: bool = False


def _levels(column: str, *levels: Level) -> dict[str, Any]:
    """A Splink comparison: a null level first, then ``levels`` (strongest first), then everything else."""
    null = {"sql_condition": f'"{column}_l" IS NULL OR "{column}_r" IS NULL', "label_for_charts": f"{column} missing",
            "is_null_level": True}  # fmt: skip
    out: list[dict[str, Any]] = [null]
    for level in levels:
        item: dict[str, Any] = {"sql_condition": level.sql, "label_for_charts": level.label, "m_probability": level.m}
        if level.u:
            item["u_probability"] = level.u
        if level.tf:
            item["tf_adjustment_column"] = column
            item["tf_adjustment_weight"] = 1.0
        out.append(item)
    return {"output_column_name": column, "comparison_levels": out, "comparison_description": column}


def _else(m: float, what: str) -> Level:
    return Level(f"{what} disagree", "ELSE", m, 0.95)


def _jw(column: str, at: float) -> str:
    return f'jaro_winkler_similarity("{column}_l", "{column}_r") >= {at}'


def _exact(column: str) -> str:
    return f'"{column}_l" = "{column}_r"'


def identifier(column: str) -> dict[str, Any]:
    """NHS, NI, UPRN, company numbers: strong but fallible (mistyped, reused)."""
    return _levels(
        column,
        Level(f"same {column}", _exact(column), 0.90, 1e-6),
        Level(f"{column} one typo apart", f'damerau_levenshtein("{column}_l", "{column}_r") <= 1', 0.04, 1e-5),
        _else(0.06, f"{column}s"),
    )


_SWAPPED = (
    "jaro_winkler_similarity(given_name_l, family_name_r) >= 0.92 "
    "AND jaro_winkler_similarity(family_name_l, given_name_r) >= 0.92"
)


def given_name() -> dict[str, Any]:
    return _levels(
        "given_name",
        Level("same given name", _exact("given_name"), 0.80, 0.01, tf=True),
        Level(
            "given names are variants (Sam/Samantha, Dai/David)",
            "list_has_any(given_groups_l, given_groups_r)",
            0.08,
            0.002,
        ),
        Level("given names nearly the same", _jw("given_name", 0.92), 0.05, 0.003),
        Level("given and family names swapped", _SWAPPED, 0.02, 1e-5),
        Level("given names similar", _jw("given_name", 0.80), 0.03, 0.02),
        _else(0.02, "given names"),
    )


def family_name() -> dict[str, Any]:
    return _levels(
        "family_name",
        Level("same family name", _exact("family_name"), 0.85, 0.005, tf=True),
        Level("family names nearly the same", _jw("family_name", 0.92), 0.06, 0.003),
        Level("given and family names swapped", _SWAPPED, 0.02, 1e-5),
        Level("family names similar", _jw("family_name", 0.80), 0.03, 0.02),
        _else(0.06, "family names"),
    )


def date_of_birth() -> dict[str, Any]:
    c = "date_of_birth"
    swapped = (
        f'substr("{c}_l", 1, 4) = substr("{c}_r", 1, 4) AND substr("{c}_l", 5, 2) = substr("{c}_r", 7, 2) '
        f'AND substr("{c}_l", 7, 2) = substr("{c}_r", 5, 2)'
    )
    return _levels(
        c,
        Level("same date of birth", _exact(c), 0.85, 3e-4),
        Level("day and month swapped", swapped, 0.02, 1e-5),
        Level("dates of birth one typo apart", f'damerau_levenshtein("{c}_l", "{c}_r") <= 1', 0.08, 0.002),
        Level("dates of birth two typos apart", f'damerau_levenshtein("{c}_l", "{c}_r") <= 2', 0.03, 0.01),
        _else(0.02, "dates of birth"),
    )


def postcode() -> dict[str, Any]:
    c = "postcode"

    def part(drop: int) -> str:
        return f'left("{c}_l", length("{c}_l") - {drop}) = left("{c}_r", length("{c}_r") - {drop})'

    return _levels(
        c,
        Level("same postcode", _exact(c), 0.72, 5e-5, tf=True),
        Level("same postcode sector", part(2), 0.05, 0.001),
        Level("same postcode district", part(3), 0.04, 0.005),
        Level(
            "same postcode area",
            f"regexp_extract(\"{c}_l\", '^[A-Z]+') = regexp_extract(\"{c}_r\", '^[A-Z]+')",
            0.04,
            0.05,
        ),
        _else(0.15, "postcodes"),
    )


def address() -> dict[str, Any]:
    return _levels(
        "address",
        Level("same address", _exact("address"), 0.55, 1e-5),
        Level("addresses nearly the same", _jw("address", 0.92), 0.20, 5e-5),
        Level("addresses similar", _jw("address", 0.80), 0.10, 0.005),
        _else(0.15, "addresses"),
    )


def business_name() -> dict[str, Any]:
    return _levels(
        "business_name",
        Level("same name", _exact("business_name"), 0.80, 1e-4, tf=True),
        Level("names nearly the same", _jw("business_name", 0.92), 0.10, 5e-4),
        Level("names similar", _jw("business_name", 0.80), 0.05, 0.01),
        _else(0.05, "names"),
    )


def sex() -> dict[str, Any]:
    return _levels("sex", Level("same sex", _exact("sex"), 0.97, 0.5), _else(0.03, "sexes"))


_IDENTIFIERS = ("nhs_number", "ni_number", "national_id", "uprn", "company_number", "vat_number")
_BUILDERS = {
    "given_name": given_name,
    "family_name": family_name,
    "date_of_birth": date_of_birth,
    "postcode": postcode,
    "address": address,
    "business_name": business_name,
    "sex": sex,
}


def comparisons(roles: Sequence[str]) -> list[dict[str, Any]]:
    return [identifier(r) if r in _IDENTIFIERS else _BUILDERS[r]() for r in roles]


def blocking_rules(roles: Sequence[str]) -> list[str]:
    """Candidate pairs: any strong identifier, or enough of name, date of birth and postcode to be worth scoring.

    Each rule pairs a field with another's first letters, so a typo in one field
    still finds the pair through another rule, and no rule makes a block as big
    as a whole birth date's or postcode's population in a million records.
    """
    has = set(roles)
    rules = [f'l."{r}" = r."{r}"' for r in _IDENTIFIERS if r in has]
    dob, given, family, pc = "date_of_birth", "given_name", "family_name", "postcode"
    if {dob, family} <= has:
        rules.append(f'l."{dob}" = r."{dob}" AND substr(l."{family}", 1, 1) = substr(r."{family}", 1, 1)')
    if {dob, given} <= has:
        rules.append(f'l."{dob}" = r."{dob}" AND substr(l."{given}", 1, 1) = substr(r."{given}", 1, 1)')
    if {given, family} <= has:
        rules.append(f'l."{given}" = r."{given}" AND l."{family}" = r."{family}"')
        rules.append(f'l.given_key = r.given_key AND l."{family}" = r."{family}"')
        rules.append(f'l."{given}" = r."{family}" AND l."{family}" = r."{given}"')
    if {family, pc} <= has:
        rules.append(f'l."{family}" = r."{family}" AND l."{pc}" = r."{pc}"')
    if {given, pc} <= has:
        rules.append(f'l."{given}" = r."{given}" AND l."{pc}" = r."{pc}"')
    if {dob, pc} <= has:
        rules.append(f'l."{dob}" = r."{dob}" AND l."{pc}" = r."{pc}"')
    if "business_name" in has:
        rules.append("l.business_name = r.business_name")
        if pc in has:
            rules.append(f'substr(l.business_name, 1, 4) = substr(r.business_name, 1, 4) AND l."{pc}" = r."{pc}"')
    return rules


def deterministic_rules(roles: Sequence[str]) -> list[str]:
    """Rules nearly every pair they find is a true match: used to estimate how common matches are."""
    has = set(roles)
    rules = [f'l."{r}" = r."{r}"' for r in _IDENTIFIERS if r in has]
    if {"given_name", "family_name", "date_of_birth"} <= has:
        rules.append(
            "l.given_name = r.given_name AND l.family_name = r.family_name AND l.date_of_birth = r.date_of_birth"
        )
    if {"business_name", "postcode"} <= has:
        rules.append("l.business_name = r.business_name AND l.postcode = r.postcode")
    return rules


def settings(roles: Sequence[str], link_type: str, *, term_frequencies: bool = True) -> dict[str, Any]:
    """Splink settings; without ``term_frequencies`` no level is adjusted for how common its value is."""
    rules = blocking_rules(roles)
    compared = comparisons(roles)
    if not term_frequencies:
        for comparison in compared:
            for level in comparison["comparison_levels"]:
                level.pop("tf_adjustment_column", None)
                level.pop("tf_adjustment_weight", None)
    return {
        "link_type": link_type,
        "unique_id_column_name": "unique_id",
        "source_dataset_column_name": "source_dataset",
        "comparisons": compared,
        "blocking_rules_to_generate_predictions": [{"blocking_rule": r, "sql_dialect": "duckdb"} for r in rules],
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": True,
        "additional_columns_to_retain": [],
        "probability_two_random_records_match": 1e-4,
    }


def guard_sql(roles: Sequence[str]) -> str:
    """The household guard: a condition on a candidate pair's two prepared records, aliased ``l`` and ``r``.

    A pair that shares surname and address is a household, not a person, unless
    the given names agree (exactly, as variants or nearly) and the dates of birth
    agree (exactly, swapped or within two typos) where both are known. An exact
    strong identifier overrides it.
    """
    has = set(roles)
    parts = []
    if "given_name" in has:
        parts.append(
            "(l.given_name IS NULL OR r.given_name IS NULL OR l.given_name = r.given_name"
            " OR list_has_any(l.given_groups, r.given_groups)"
            " OR jaro_winkler_similarity(l.given_name, r.given_name) >= 0.92"
            " OR (jaro_winkler_similarity(l.given_name, r.family_name) >= 0.92"
            " AND jaro_winkler_similarity(l.family_name, r.given_name) >= 0.92))"
        )
    if "date_of_birth" in has:
        parts.append(
            "(l.date_of_birth IS NULL OR r.date_of_birth IS NULL"
            " OR damerau_levenshtein(l.date_of_birth, r.date_of_birth) <= 2"
            " OR (substr(l.date_of_birth, 5, 2) = substr(r.date_of_birth, 7, 2)"
            " AND substr(l.date_of_birth, 7, 2) = substr(r.date_of_birth, 5, 2)))"
        )
    if not parts:
        return "TRUE"
    ids = [f'l."{r}" = r."{r}"' for r in _IDENTIFIERS if r in has]
    person = " AND ".join(parts)
    # coalesce: a comparison with a missing value is NULL, and NOT NULL would wave the pair through.
    return f"coalesce(({person}){' OR ' + ' OR '.join(ids) if ids else ''}, FALSE)"
