"""The reference maps case exactly as DuckDB does, for every Unicode code point."""

from __future__ import annotations

import duckdb

from joinedup.standards.casing import lower_char, upper_char


def test_case_mapping_matches_duckdb_for_every_code_point(con: duckdb.DuckDBPyConnection) -> None:
    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]  # no surrogates
    rows = con.execute(
        "SELECT upper(c), lower(c) FROM unnest(CAST(? AS VARCHAR[])) WITH ORDINALITY AS t(c, i) ORDER BY i",
        [characters],
    ).fetchall()
    mismatches = [
        (f"U+{ord(ch):04X}", upper_char(ch), up, lower_char(ch), low)
        for ch, (up, low) in zip(characters, rows, strict=True)
        if (upper_char(ch), lower_char(ch)) != (up, low)
    ]
    assert mismatches == []
