"""Name variants as data: the ``nicknames`` package's list plus our UK additions, as a DuckDB lookup table.

Each name belongs to one or more *groups*, named after a formal name: ``sam`` is in
the groups ``samuel`` and ``samantha``; ``samantha`` in ``samantha``. Two given
names are variants when their groups meet, which is a set test in SQL
(``list_has_any``), so the comparison stays in the model's SQL.
"""

from __future__ import annotations

import csv
import functools
import unicodedata
from importlib.resources import files

import duckdb
import pyarrow as pa

#: The lookup table's name in a linkage connection.
TABLE = "jd_name_groups"


def normalise(name: str) -> str:
    """The form names are compared in: lower case, accents dropped, letters only (``Siân`` → ``sian``)."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in decomposed.lower() if "a" <= ch <= "z")


@functools.cache
def variant_pairs() -> tuple[tuple[str, str], ...]:
    """(formal name, variant) pairs from both lists, normalised, without repeats."""
    pairs: set[tuple[str, str]] = set()
    sources = [
        files("nicknames").joinpath("names.csv"),
        files("joinedup.linkage").joinpath("data/uk_name_variants.csv"),
    ]
    for source in sources:
        lines = [line for line in source.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
        for row in csv.DictReader(lines):
            formal, variant = normalise(row["name1"]), normalise(row["name2"])
            if formal and variant and formal != variant:
                pairs.add((formal, variant))
    return tuple(sorted(pairs))


def groups() -> pa.Table:
    """``(name, grp)``: every name in its own group and in the group of each formal name it is a variant of."""
    pairs = variant_pairs()
    names = sorted({n for pair in pairs for n in pair})
    rows = [(n, n) for n in names] + [(variant, formal) for formal, variant in pairs]
    return pa.table({"name": [r[0] for r in rows], "grp": [r[1] for r in rows]})


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Make :data:`TABLE` available to the linkage SQL on ``con``."""
    con.register(TABLE + "_arrow", groups())
    con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS SELECT DISTINCT name, grp FROM {TABLE}_arrow")
    con.unregister(TABLE + "_arrow")
