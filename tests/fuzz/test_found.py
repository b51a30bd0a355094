"""Failures the fuzzer found, kept as plain examples so they stay fixed whatever it draws next."""

from __future__ import annotations

import codecs
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from joinedup.errors import InputError, SchemaError
from joinedup.estate import Catalogue, Estate
from joinedup.ingest import ingest
from joinedup.ingest.inference import infer_file_schema
from joinedup.schema import Schema
from joinedup.storage import delta


def _schema(*names: str) -> Schema:
    return Schema.from_dict({"fields": [{"name": n, "type": "string"} for n in names]})


@pytest.mark.parametrize("bom", [b"", codecs.BOM_UTF8], ids=["no BOM", "BOM"])
@pytest.mark.parametrize("inside, ending", [("\n", "\r\n"), ("\r\n", "\n"), ("\n", "\n"), ("\r\n", "\r\n")])
def test_a_header_with_a_quoted_line_break_loses_no_rows(
    estate: Estate, tmp_path: Path, bom: bytes, inside: str, ending: str
) -> None:
    path = tmp_path / "nl.csv"
    path.write_bytes(bom + f'"new{inside}line",b{ending}1,2{ending}3,"4{inside}5"{ending}'.encode())
    result = ingest(estate, path, dataset="nl", principal="tester", schema=_schema(f"new{inside}line", "b"))
    assert (result.rows_read, result.rows_loaded) == (2, 2)


def test_a_parquet_file_with_no_columns_is_refused_in_one_line(estate: Estate, tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    pq.write_table(pa.table({}), path)
    with pytest.raises(InputError, match="the Parquet file has no columns"):
        infer_file_schema(path)
    with pytest.raises(InputError, match="the Parquet file has no columns"):
        ingest(estate, path, dataset="empty", principal="tester", schema=_schema("a"))
    assert Catalogue(estate).find("empty") is None


def test_a_header_with_a_line_break_stays_on_one_line_in_errors(estate: Estate, tmp_path: Path) -> None:
    path = tmp_path / "nl.csv"
    path.write_bytes(b'"new\r\nline",b\r\n1,2\r\n')
    with pytest.raises(SchemaError) as caught:
        ingest(estate, path, dataset="nl", principal="tester", schema=_schema("missing"))
    assert "\n" not in str(caught.value) and "columns: new\\r\\nline, b" in str(caught.value)


@pytest.mark.parametrize("header", ["RULE,rule", "a b,a_b", "Name,name,NAME"])
def test_what_infer_proposes_for_headers_that_normalise_alike_loads_each_column_into_its_field(
    estate: Estate, tmp_path: Path, header: str
) -> None:
    width = header.count(",") + 1
    path = tmp_path / "alike.csv"
    path.write_text(header + "\n" + ",".join(f"v{i}" for i in range(width)) + "\n", encoding="utf-8")
    proposed = infer_file_schema(path)
    ingest(estate, path, dataset="alike", principal="tester", schema=proposed)
    table = delta.snapshot(estate.table_path("alike"), Catalogue(estate).get("alike").current.table_version).to_table()
    headers = header.split(",")
    # Each field holds the column it was inferred from: the one its title (or name) is.
    for field in proposed.fields:
        column = headers.index(field.title or field.name)
        # (compared ignoring case: a column of names is proposed as person_name, which cases v0 as V0)
        assert [v.lower() for v in table.column(field.name).to_pylist()] == [f"v{column}"]


def test_parquet_columns_whose_names_differ_only_in_case_each_load_into_their_own_field(
    estate: Estate, tmp_path: Path
) -> None:
    path = tmp_path / "case.parquet"
    pq.write_table(pa.table([pa.array(["upper"]), pa.array(["lower"])], names=["NAME", "name"]), path)
    schema = Schema.from_dict(
        {"fields": [{"name": "name", "type": "string"}, {"name": "upper", "title": "NAME", "type": "string"}]}
    )
    ingest(estate, path, dataset="cased", principal="tester", schema=schema)
    table = delta.snapshot(estate.table_path("cased"), Catalogue(estate).get("cased").current.table_version).to_table()
    assert (table.column("name").to_pylist(), table.column("upper").to_pylist()) == (["lower"], ["upper"])
