"""The validation query calls only macros the ingest connection defines."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.ingest.quarantine import read_quarantine
from joinedup.ingest.validate import ROWS, build_query, macros_needed, preparation
from joinedup.schema import Schema
from joinedup.standards import UK_TYPES, install_macros
from tests.conftest import write_csv


def test_the_connection_defines_every_macro_the_query_calls() -> None:
    fields = [{"name": t, "type": t, "constraints": {"unique": True}} for t in UK_TYPES]
    fields += [
        {"name": "given", "type": "string", "format": "person_name"},
        {"name": "born", "type": "date"},
        {"name": "seen", "type": "datetime"},
        {"name": "local", "type": "datetime", "timezone": "Europe/London"},
        {"name": "local_uk", "type": "datetime", "format": "%d/%m/%Y %H:%M", "timezone": "Europe/London"},
        {"name": "uk_date", "type": "date", "format": "%d/%m/%Y"},
        {"name": "n", "type": "integer"},
    ]
    schema = Schema.from_dict({"fields": fields, "primaryKey": ["given", "born"]})
    mapping = {f.name: f"c{i}" for i, f in enumerate(schema.fields)}
    sql = " ".join([*preparation(schema, mapping, "src"), build_query(schema, mapping, "src")])
    con = duckdb.connect()
    install_macros(con, macros_needed(schema))
    defined = {
        name
        for (name,) in con.execute(
            "SELECT function_name FROM duckdb_functions() WHERE function_name LIKE 'jd_%'"
        ).fetchall()
    }
    called = set(re.findall(r"\b(jd_[a-z_]+)\(", sql)) - {"jd_lookup_0", "jd_duplicates_0"}
    assert called and called <= defined, called - defined
    # The columns are all there, so the statements bind (and run) against a table of that shape.
    columns = ", ".join(f"CAST(NULL AS VARCHAR) AS c{i}" for i in range(len(schema.fields)))
    con.execute(f"CREATE TABLE src AS SELECT 2 AS _source_row, {columns}")
    for statement in preparation(schema, mapping, "src"):
        con.execute(statement)
    assert con.execute(build_query(schema, mapping, "src")).fetchall()


def _unquoted_identifiers(sql: str) -> list[str]:
    """Names in ``sql`` that are neither quoted, nor a function called, nor a type (written upper case: ``AS DATE``)."""
    tokens = duckdb.tokenize(sql)
    text = sql.encode()  # the tokenizer's positions count bytes
    found = []
    for (start, kind), following in zip(tokens, [*tokens[1:], (len(text), None)], strict=True):
        if kind != duckdb.token_type.identifier or text[start:].startswith(b'"'):
            continue
        name = text[start : following[0]].decode().strip()
        if not (text[following[0] :].startswith(b"(") or name.isupper()):
            found.append(name)
    return found


def test_every_identifier_in_the_generated_sql_is_quoted() -> None:
    schema = Schema.from_dict(
        {
            "fields": [
                {"name": "order", "type": "integer"},
                {"name": 'odd "name"', "type": "string", "format": "person_name", "constraints": {"unique": True}},
                {"name": "gone", "type": "boolean"},
                {"name": "seen", "type": "date", "constraints": {"minimum": "2000-01-01"}},
            ],
            "primaryKey": ["order"],
            "deletionFlag": "gone",
        }
    )
    mapping = {f.name: f"c{i}" for i, f in enumerate(schema.fields)}
    for mode in ("replace", "append", "upsert"):
        statements = [
            *preparation(schema, mapping, '"src"', mode=mode, stored=True),
            *(build_query(schema, mapping, '"src"', mode=mode, stored=True, rows=rows) for rows in ROWS),
        ]
        for sql in statements:
            assert _unquoted_identifiers(sql) == [], sql


@pytest.mark.parametrize(
    "field",
    [
        {"name": "seen", "type": "date", "format": "%d/%m/%Y"},
        {"name": "seen", "type": "date", "format": "%d%m%Y"},
        {"name": "seen", "type": "datetime", "format": "%d/%m/%Y %H:%M", "timezone": "Europe/London"},
        {"name": "seen", "type": "datetime", "format": "%d/%m/%Y %H:%M%z"},
    ],
    ids=["date", "date-without-separators", "local-datetime", "datetime-with-offset"],
)
def test_a_year_under_percent_y_must_have_four_digits(estate: Estate, tmp_path: Path, field: dict) -> None:
    time = " 10:00" if field["type"] == "datetime" else ""
    offset = "+0000" if field["format"].endswith("%z") else ""
    slash = "/" if "/" in field["format"] else ""
    values = [f"25{slash}12{slash}{year}{time}{offset}" for year in ("2020", "20", "202", "1999")]
    path = write_csv(tmp_path / "d.csv", "id,seen\n" + "\n".join(f"{i},{v}" for i, v in enumerate(values, start=1)))
    schema = Schema.from_dict({"fields": [{"name": "id", "type": "integer"}, field], "primaryKey": ["id"]})
    result = ingest(estate, path, dataset="seen", principal="tester", schema=schema)
    assert (result.rows_inserted, result.rows_quarantined) == (2, 2)
    quarantined = read_quarantine(estate, "seen").rows
    assert sorted(row["_source_row"] for row in quarantined) == [3, 4]
    assert {e["rule"] for row in quarantined for e in row["_errors"]} == {field["type"]}


_PARTITIONED = Schema.from_dict(
    {
        "fields": [
            {"name": "id", "type": "integer", "constraints": {"required": True, "minimum": 1}},
            {"name": "name", "type": "string", "format": "person_name", "constraints": {"required": True}},
            {"name": "nhs", "type": "nhs_number"},
            {"name": "born", "type": "date", "constraints": {"maximum": "2025-01-01"}},
            {"name": "sex", "type": "string", "constraints": {"enum": ["M", "F"]}},
        ],
        "primaryKey": ["id"],
    }
)
_cells = {
    "id": st.sampled_from(["1", "2", "3", " 4 ", "0", "-1", "x", ""]),
    "name": st.sampled_from(["ann", " SMITH ", "o'brien", "", "  "]),
    "nhs": st.sampled_from(["9434765919", "943 476 5919", "9434765918", "", "abc"]),
    "born": st.sampled_from(["1980-02-29", "1981-02-29", "2030-01-01", "", "29/02/1980"]),
    "sex": st.sampled_from(["M", "F", "m", "Q", ""]),
}


@settings(max_examples=40, deadline=None)
@given(rows=st.lists(st.fixed_dictionaries(_cells), max_size=12))
def test_the_valid_and_rejected_rows_partition_the_whole_query(rows: list[dict[str, str]]) -> None:
    """The pipeline loads the valid rows and quarantines the rejected ones from two queries: they must agree
    with the one query that labels every row, row for row and reason for reason."""
    schema = _PARTITIONED
    mapping = {f.name: f"c{i}" for i, f in enumerate(schema.fields)}
    con = duckdb.connect()
    install_macros(con, macros_needed(schema))
    columns = ", ".join(f"CAST(NULL AS VARCHAR) AS c{i}" for i in range(len(schema.fields)))
    con.execute(f"CREATE TABLE src AS SELECT CAST(NULL AS BIGINT) AS _source_row, {columns} LIMIT 0")
    for number, row in enumerate(rows, start=2):
        con.execute("INSERT INTO src VALUES (?, ?, ?, ?, ?, ?)", [number, *(row[f.name] for f in schema.fields)])
    for statement in preparation(schema, mapping, "src"):
        con.execute(statement)
    names = ["_source_row", *schema.names]
    raws = [f"_raw_{i}" for i in range(len(schema.fields))]
    whole = f"({build_query(schema, mapping, 'src')})"
    expected_valid = con.execute(f"SELECT {', '.join(names)} FROM {whole} WHERE _errors IS NULL ORDER BY 1").fetchall()
    expected_rejected = con.execute(
        f"SELECT _source_row, _errors, {', '.join(raws)} FROM {whole} WHERE _errors IS NOT NULL ORDER BY 1"
    ).fetchall()
    valid = con.execute(f"SELECT * FROM ({build_query(schema, mapping, 'src', rows='valid')}) ORDER BY 1").fetchall()
    rejected = con.execute(
        f"SELECT * FROM ({build_query(schema, mapping, 'src', rows='rejected')}) ORDER BY 1"
    ).fetchall()
    assert valid == expected_valid
    assert rejected == expected_rejected
    assert len(valid) + len(rejected) == len(rows)
    assert all(reasons for _, reasons, *_ in rejected)


def test_rows_must_be_one_of_the_three_kinds() -> None:
    with pytest.raises(ValueError, match="rows='some': expected one of all, valid, rejected"):
        build_query(_PARTITIONED, {f.name: f"c{i}" for i, f in enumerate(_PARTITIONED.fields)}, "src", rows="some")  # type: ignore[arg-type]
