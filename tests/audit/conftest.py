"""Helpers for audit tests: a log with some history, and direct access to its SQLite file."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from joinedup.audit import AuditEntry, Subject, record_now
from joinedup.estate import Estate


def fill(estate: Estate, count: int) -> list[AuditEntry]:
    """``count`` entries of the kinds real use writes: queries, single-record reads, changes."""
    made = []
    for i in range(count):
        if i % 3 == 0:
            entry = record_now(
                estate, principal="analyst1", action="data.query", purpose="caseload report",
                dataset="people", dataset_version=1, columns=["name", "postcode"], row_count=10 + i,
                sql=f"SELECT name, postcode FROM people WHERE person_id > {i}",
            )  # fmt: skip
        elif i % 3 == 1:
            entry = record_now(
                estate, principal="api", action="data.read", purpose="case lookup", dataset="people",
                dataset_version=1, columns=["name"], row_count=1, subjects=[Subject("person_key", f"P{i}")],
            )  # fmt: skip
        else:
            entry = record_now(
                estate,
                principal="steward1",
                action="dataset.ingest",
                dataset="people",
                dataset_version=i,
                row_count=100,
            )
        made.append(entry)
    return made


@contextmanager
def raw_catalogue(estate: Estate) -> Iterator[sqlite3.Connection]:
    """The catalogue file opened behind joinedup's back, as someone tampering with it would."""
    estate.close()
    con = sqlite3.connect(estate.root / "catalogue.db")
    try:
        yield con
        con.commit()
    finally:
        con.close()


@pytest.fixture
def estate(tmp_path: Path) -> Iterator[Estate]:
    """An estate with no principals yet: these tests register their own."""
    made = Estate.create(tmp_path / "estate")
    yield made
    made.close()
