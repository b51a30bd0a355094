"""The last check before a release is written: no personal value and no UK identifier in it.

Every value of the dataset's personal columns (3 characters or more, compared
trimmed and case-folded) is looked for in every released column, and every
released cell (and each word of it) is tried as an NHS number, a National
Insurance number and a UTR. A hit names the column, never the value.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from joinedup.publish.errors import PersonalDataFound
from joinedup.storage.duck import quote_identifier as q

#: Shorter personal values (a sex, an initial) are everywhere in ordinary data.
MIN_LENGTH = 3
_IDENTIFIERS = ("nhs_number", "ni_number", "utr")
#: Runs of text shaped like an NHS number or UTR (ten digits, maybe spaced) or an NI number.
_SHAPES = r"[0-9][0-9 \-]{8,14}[0-9]|[A-Za-z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-Da-d]"


def _folded(sql: str) -> str:
    return f"lower(trim(CAST({sql} AS VARCHAR)))"


def scan_release(
    con: duckdb.DuckDBPyConnection, release: str, columns: Sequence[str], source: str, personal: Sequence[str]
) -> None:
    """Refuse (:class:`PersonalDataFound`) when a released column holds a personal value or an identifier."""
    if personal:
        parts = " UNION ".join(
            f"SELECT {_folded(q(c))} AS v FROM {source} WHERE length({_folded(q(c))}) >= {MIN_LENGTH}" for c in personal
        )
        con.execute(f"CREATE OR REPLACE TEMP TABLE personal_values AS {parts}")
    for column in columns:
        if personal and _holds_personal_value(con, release, column):
            raise PersonalDataFound(
                f"release refused: column {column!r} holds values of the dataset's personal columns; "
                "nothing was written"
            )
        if _holds_identifier(con, release, column):
            raise PersonalDataFound(
                f"release refused: column {column!r} holds UK identifiers (NHS, NI number or UTR); nothing was written"
            )


def _holds_personal_value(con: duckdb.DuckDBPyConnection, release: str, column: str) -> bool:
    rows = con.execute(
        f"SELECT EXISTS (SELECT 1 FROM {release} r SEMI JOIN personal_values p ON {_folded('r.' + q(column))} = p.v)"
    ).fetchall()
    return bool(rows[0][0])


def _holds_identifier(con: duckdb.DuckDBPyConnection, release: str, column: str) -> bool:
    text = f"CAST({q(column)} AS VARCHAR)"
    whole = " OR ".join(f"jd_{kind}({text}) IS NOT NULL" for kind in _IDENTIFIERS)
    # Words of free text: an identifier inside a sentence ("NHS no 943 476 5919") is one with its blanks taken out.
    candidates = f"regexp_extract_all({text}, '{_SHAPES}')"
    inside = " OR ".join(
        f"len(list_filter({candidates}, lambda t: jd_{kind}(t) IS NOT NULL)) > 0" for kind in _IDENTIFIERS
    )
    rows = con.execute(
        f"SELECT EXISTS (SELECT 1 FROM {release} WHERE {text} IS NOT NULL AND (({whole}) OR ({inside})))"
    ).fetchall()
    return bool(rows[0][0])
