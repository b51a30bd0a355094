"""Ingest finds exactly what the ground truth says was planted: same rows, same columns, same rules.

This is the contract later capabilities and the benchmark rely on, checked
end to end through joinedup's own ingest for each file format.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.ingest.quarantine import read_quarantine
from joinedup.schema import Schema
from joinedup.synthetic import (
    GroundTruth,
    SyntheticRows,
    businesses_schema,
    generate_businesses,
    generate_people,
    people_schema,
    write_csv,
    write_jsonl,
    write_parquet,
    write_xlsx,
)


def _agree(estate: Estate, path: Path, schema: dict, truth: GroundTruth, dataset: str) -> None:
    result = ingest(estate, path, dataset=dataset, principal="tester", schema=Schema.from_dict(schema))
    assert result.rows_read == truth.rows
    assert result.rows_quarantined == len(truth.bad_rows)
    assert result.rows_loaded == truth.rows - len(truth.bad_rows)
    assert result.rule_counts == truth.rule_counts()
    found = {
        row["_source_row"]: {(e["column"], e["rule"]) for e in row["_errors"]}
        for row in read_quarantine(estate, dataset).rows
    }
    planted = {row: {(e.column, e.rule) for e in errors} for row, errors in truth.errors.items()}
    assert found == planted


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252"])
def test_ingest_of_a_people_csv_quarantines_exactly_the_planted_rows(
    estate: Estate, tmp_path: Path, encoding: str
) -> None:
    rows = generate_people(3_000, seed=21, error_rate=0.05, ragged_rows=4, non_ascii=True)
    path = tmp_path / "people.csv"
    _agree(estate, path, people_schema(), write_csv(path, rows, encoding=encoding), "people")


@pytest.mark.parametrize(
    ("suffix", "writer"), [("jsonl", write_jsonl), ("parquet", write_parquet), ("xlsx", write_xlsx)]
)
def test_ingest_agrees_with_the_ground_truth_in_every_format(
    estate: Estate, tmp_path: Path, suffix: str, writer
) -> None:
    rows: SyntheticRows = generate_people(1_500, seed=22, error_rate=0.05, non_ascii=True, address=True)
    path = tmp_path / f"people.{suffix}"
    _agree(estate, path, people_schema(address=True), writer(path, rows), "people")


def test_ingest_of_businesses_quarantines_exactly_the_planted_rows(estate: Estate, tmp_path: Path) -> None:
    path = tmp_path / "businesses.csv"
    truth = write_csv(path, generate_businesses(3_000, seed=23, error_rate=0.05))
    _agree(estate, path, businesses_schema(), truth, "businesses")
