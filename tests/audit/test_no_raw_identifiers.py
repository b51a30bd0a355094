"""Invariant 4: after real use, no audit table holds an NHS number, NI number or name."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from joinedup.audit import log, record_now, verify
from joinedup.estate import Estate
from tests.audit import workload


def _forms(nhs: str, ni: str) -> list[str]:
    """Every way the identifier could have been written into a column."""
    digits = nhs.replace(" ", "")
    ni = ni.replace(" ", "").upper()
    return [
        digits,
        f"{digits[:3]} {digits[3:6]} {digits[6:]}",
        f"{digits[:3]}-{digits[3:6]}-{digits[6:]}",
        ni,
        f"{ni[:2]} {ni[2:4]} {ni[4:6]} {ni[6:8]} {ni[8]}",
    ]


def raw_identifiers_in_audit_tables(database: Path) -> list[str]:
    """Every (table, column, needle) where a person's identifier or name appears, in any case."""
    people = [*workload.PEOPLE, workload.QUARANTINED]
    needles = [form for _, _, nhs, ni, _ in people for form in _forms(nhs, ni)] + workload.NAMES
    pattern = re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE)
    found = []
    with sqlite3.connect(database) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        audit_tables = [t for t in tables if t.startswith("audit_") or t in ("principals", "role_grants")]
        for table in audit_tables:
            columns = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
            for row in con.execute(f"SELECT * FROM {table}"):
                for column, value in zip(columns, row, strict=True):
                    for match in pattern.finditer(str(value)):
                        found.append(f"{table}.{column}: {match.group()}")
    return found


def test_a_realistic_workload_leaves_no_identifier_in_the_audit_tables(estate: Estate, tmp_path: Path) -> None:
    workload.run(estate, tmp_path)
    entries = log(estate, limit=None)
    assert {"dataset.ingest", "data.query", "access.denied", "quarantine.read", "data.read", "audit.who_accessed"} <= {
        e.action for e in entries
    }
    assert verify(estate).ok

    assert raw_identifiers_in_audit_tables(estate.root / "catalogue.db") == []


def test_the_scan_would_notice_an_identifier(estate: Estate, tmp_path: Path) -> None:
    """The scanner itself can fail: a name smuggled in through a column name is found."""
    workload.run(estate, tmp_path)
    record_now(estate, principal="steward1", action="data.query", columns=["Siobhan Quigley"])

    assert raw_identifiers_in_audit_tables(estate.root / "catalogue.db") == ["audit_entries.columns: Siobhan Quigley"]


def test_query_text_keeps_its_shape_without_its_values(estate: Estate, tmp_path: Path) -> None:
    workload.run(estate, tmp_path)
    queries = [e.detail["sql"] for e in log(estate, action="data.query")]
    assert "SELECT * FROM residents WHERE nhs_number = ?" in queries
    assert "SELECT count(*) FROM residents WHERE name LIKE ?" in queries
    [analyst] = [e for e in log(estate, principal="analyst1") if e.action == "data.query"]
    assert analyst.purpose == "re-housing review for [nhs number]"
