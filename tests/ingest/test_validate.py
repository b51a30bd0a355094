"""The validation query calls only macros the ingest connection defines."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.ingest.quarantine import read_quarantine
from joinedup.ingest.validate import build_query, macros_needed, preparation
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
            build_query(schema, mapping, '"src"', mode=mode, stored=True),
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
