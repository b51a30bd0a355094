"""Parquet types other tools write: carried as text (nested ones as JSON), never a traceback."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
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


def test_typed_timestamps_and_dates_load_as_iso_8601_and_are_inferred_as_such(estate: Estate, tmp_path: Path) -> None:
    utc = dt.UTC
    path = tmp_path / "typed.parquet"
    table = {
        "id": pa.array([1, 2], pa.int64()),
        "moment": pa.array(
            [dt.datetime(2024, 1, 1, tzinfo=utc), dt.datetime(2024, 6, 1, 12, 30, 15, 123456, tzinfo=utc)],
            pa.timestamp("us", tz="UTC"),
        ),
        "london": pa.array(
            [dt.datetime(2024, 1, 1, tzinfo=utc), dt.datetime(2024, 6, 1, 11, 30, tzinfo=utc)],
            pa.timestamp("ms", tz="Europe/London"),
        ),
        "local": pa.array(
            [dt.datetime(2024, 1, 1, 9), dt.datetime(2024, 6, 1, 12, 30, 15, 500000)], pa.timestamp("ns")
        ),
        "day": pa.array([dt.date(2024, 1, 1), dt.date(1900, 2, 28)], pa.date32()),
        "day64": pa.array([dt.date(2024, 1, 1), dt.date(1900, 2, 28)], pa.date64()),
    }
    pq.write_table(pa.table(table), path)
    inferred = {f.name: f.type for f in infer_file_schema(path).fields}
    assert inferred == {
        "id": "integer",
        "moment": "datetime",
        "london": "datetime",
        "local": "datetime",
        "day": "date",
        "day64": "date",
    }
    schema = parse_schema(
        "fields:\n- {name: id, type: integer}\n- {name: moment, type: datetime}\n- {name: london, type: datetime}\n"
        "- {name: local, type: datetime, timezone: Europe/London}\n- {name: day, type: date}\n"
        "- {name: day64, type: date}\n"
    )
    result = ingest(estate, path, dataset="typed", principal="tester", schema=schema)
    assert (result.rows_loaded, result.rows_quarantined) == (2, 0)
    sql = "SELECT moment, london, local, day, day64 FROM typed ORDER BY id"
    got = [tuple(r.values()) for r in run_query(estate, sql, datasets=referenced_datasets(estate, sql)).records()]
    assert got == [
        (
            dt.datetime(2024, 1, 1, tzinfo=utc),
            dt.datetime(2024, 1, 1, tzinfo=utc),
            dt.datetime(2024, 1, 1, 9, tzinfo=utc),
            dt.date(2024, 1, 1),
            dt.date(2024, 1, 1),
        ),
        (
            dt.datetime(2024, 6, 1, 12, 30, 15, 123456, tzinfo=utc),
            dt.datetime(2024, 6, 1, 11, 30, tzinfo=utc),
            # The naive time is a local one: 12:30 in a London summer is 11:30 UTC.
            dt.datetime(2024, 6, 1, 11, 30, 15, 500000, tzinfo=utc),
            dt.date(1900, 2, 28),
            dt.date(1900, 2, 28),
        ),
    ]


def test_64_bit_integers_and_decimals_are_carried_exactly(estate: Estate, tmp_path: Path) -> None:
    path = tmp_path / "exact.parquet"
    table = {
        "id": pa.array([1, 2], pa.int64()),
        "signed": pa.array([9_007_199_254_740_993, -(2**63)], pa.int64()),
        "unsigned": pa.array([2**64 - 1, 0], pa.uint64()),
        "money": pa.array([Decimal("12345678901234567890.123456789"), Decimal("-0.1")], pa.decimal128(38, 9)),
    }
    pq.write_table(pa.table(table), path)
    fields = "".join(f"- {{name: {name}, type: string}}\n" for name in ("signed", "unsigned", "money"))
    schema = parse_schema("fields:\n- {name: id, type: integer}\n" + fields)
    ingest(estate, path, dataset="exact", principal="tester", schema=schema)
    sql = "SELECT signed, unsigned, money FROM exact ORDER BY id"
    got = [tuple(r.values()) for r in run_query(estate, sql, datasets=referenced_datasets(estate, sql)).records()]
    # 2**53 + 1 and the 29-digit decimal would both change on the way through a float.
    assert got == [
        ("9007199254740993", "18446744073709551615", "12345678901234567890.123456789"),
        ("-9223372036854775808", "0", "-0.100000000"),
    ]
