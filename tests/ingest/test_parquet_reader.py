"""Parquet types other tools write: carried as text (nested ones as JSON), never a traceback."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from joinedup.errors import InputError
from joinedup.estate import Catalogue, Estate
from joinedup.ingest import ingest
from joinedup.ingest.inference import infer_file_schema
from joinedup.schema import parse_schema
from joinedup.storage.query import referenced_datasets, run_query


def load_one_column(estate: Estate, path: Path, kind: str = "any") -> list:
    schema = parse_schema(f"fields:\n- {{name: id, type: integer}}\n- {{name: v, type: {kind}}}\n")
    result = ingest(estate, path, dataset="odd", principal="tester", schema=schema)
    assert result.rows_read == result.rows_loaded + result.rows_quarantined
    sql = "SELECT v FROM odd ORDER BY id"
    return [r["v"] for r in run_query(estate, sql, datasets=referenced_datasets(estate, sql)).records()]


CASES = {
    "map": (
        pa.array([[("a", 1)], [("b", 2), ("c", None)]], pa.map_(pa.string(), pa.int64())),
        [{"a": 1}, {"b": 2, "c": None}],
    ),
    "map_without_values": (pa.array([[("a", None)], []], pa.map_(pa.string(), pa.null())), [{"a": None}, {}]),
    "nested_list": (pa.array([[[1, 2], [3]], []], pa.list_(pa.list_(pa.int64()))), [[[1, 2], [3]], []]),
    "struct": (
        pa.array([{"x": 1, "y": "a"}, {"x": None, "y": "b"}], pa.struct([("x", pa.int64()), ("y", pa.string())])),
        [{"x": 1, "y": "a"}, {"x": None, "y": "b"}],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_nested_columns_load_as_json_text(estate: Estate, tmp_path: Path, case: str) -> None:
    array, expected = CASES[case]
    path = tmp_path / f"{case}.parquet"
    pq.write_table(pa.table({"id": [1, 2], "v": array}), path)
    assert [json.loads(v) for v in load_one_column(estate, path)] == expected


def test_fixed_length_binary_float16_and_byte_stream_split_int64_load(estate: Estate, tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "fixed": pa.array([b"ab12", b"cd34"], pa.binary(4)),
            "half": pa.array([1.5, -2.25], pa.float32()).cast(pa.float16()),
        }
    )
    path = tmp_path / "odd.parquet"
    pq.write_table(table, path, use_byte_stream_split=["id"], use_dictionary=False)
    schema = parse_schema(
        "fields:\n- {name: id, type: integer}\n- {name: fixed, type: string}\n- {name: half, type: number}\n"
    )
    assert ingest(estate, path, dataset="odd", principal="tester", schema=schema).rows_loaded == 2
    sql = "SELECT id, fixed, half FROM odd ORDER BY id"
    got = run_query(estate, sql, datasets=referenced_datasets(estate, sql)).records()
    assert [(r["id"], r["fixed"], float(r["half"])) for r in got] == [(1, "ab12", 1.5), (2, "cd34", -2.25)]


def test_int96_timestamps_outside_the_nanosecond_range_keep_their_dates(estate: Estate, tmp_path: Path) -> None:
    path = tmp_path / "old.parquet"
    moments = pa.array([dt.datetime(1066, 10, 14, 9, 0), dt.datetime(2999, 12, 31, 23, 59)], pa.timestamp("us"))
    pq.write_table(pa.table({"id": [1, 2], "v": moments}), path, use_deprecated_int96_timestamps=True)
    values = load_one_column(estate, path, "string")
    assert [v[:10] for v in values] == ["1066-10-14", "2999-12-31"]


def test_schema_infer_reads_every_carried_type(tmp_path: Path) -> None:
    path = tmp_path / "all.parquet"
    pq.write_table(pa.table({"id": [1, 2], **{name: array for name, (array, _) in CASES.items()}}), path)
    schema = infer_file_schema(path)
    assert schema.names == ["id", *CASES]


def test_a_damaged_parquet_file_is_one_line_and_changes_nothing(estate: Estate, tmp_path: Path) -> None:
    path = tmp_path / "damaged.parquet"
    pq.write_table(
        pa.table({"id": list(range(1000)), "v": [f"value {i}" for i in range(1000)]}), path, compression="snappy"
    )
    data = bytearray(path.read_bytes())
    data[8:400] = b"\xff" * 392  # the first data page, not the footer
    path.write_bytes(bytes(data))
    with pytest.raises(InputError) as caught:
        load_one_column(estate, path)
    message = str(caught.value)
    assert message.startswith(f"{path}: column 'id': cannot read as Parquet") and "\n" not in message
    assert Catalogue(estate).find("odd") is None
