"""A small estate used the way a council would: people loaded, queried, looked up, granted, refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from joinedup.access import add_principal, bootstrap_admin, query_as
from joinedup.audit import Subject, export_checkpoint, record_now, who_accessed
from joinedup.errors import AccessDenied
from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.schema import parse_schema

SCHEMA = """
title: Residents
fields:
  - {name: person_id, type: integer, constraints: {required: true}}
  - {name: name, type: string, format: person_name, personal: true, category: name}
  - {name: nhs_number, type: nhs_number, personal: true, category: identifier}
  - {name: ni_number, type: ni_number, personal: true, category: identifier}
  - {name: postcode, type: postcode, personal: true, category: address}
primaryKey: [person_id]
"""
#: Real-looking people: valid NHS and NI numbers, distinctive names (searched for later).
PEOPLE = [
    (1, "Siobhan Quigley", "943 476 5919", "AB123456C", "SW1A 1AA"),
    (2, "Dai Pritchard", "4010232137", "JG103759A", "CF10 1EP"),
    (3, "Mohammed Okonkwo", "9876543210", "TW294817B", "M1 1AE"),
]
#: Rejected by ingest (bad check digit), so it lives in quarantine with its raw text.
QUARANTINED = (4, "Bartholomew Fenwick-Hale", "4010232138", "ZX998877D", "E1 6AN")
NAMES = ["Siobhan Quigley", "Quigley", "Dai Pritchard", "Pritchard", "Mohammed Okonkwo", "Okonkwo", "Fenwick-Hale"]


def people_csv(folder: Path) -> Path:
    lines = ["person_id,name,nhs_number,ni_number,postcode"]
    lines += [",".join(map(str, row)) for row in [*PEOPLE, QUARANTINED]]
    path = folder / "residents.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def load_people(estate: Estate, folder: Path, who: str = "admin1") -> int:
    """Ingest the residents; ingest audits the version in the transaction that creates it."""
    result = ingest(estate, people_csv(folder), dataset="residents", principal=who, schema=parse_schema(SCHEMA))
    return result.version


def run(estate: Estate, folder: Path) -> None:
    bootstrap_admin(estate, "admin1")
    add_principal(estate, "admin1", "steward1", "steward", datasets=["residents"])
    add_principal(estate, "admin1", "analyst1", "analyst", datasets=["residents"])
    add_principal(estate, "admin1", "dpo1", "dpo")
    version = load_people(estate, folder)
    query_as(estate, "steward1", "SELECT * FROM residents WHERE nhs_number = '9434765919'")
    query_as(
        estate, "steward1", "SELECT name FROM residents WHERE ni_number = 'jg 10 37 59 a' OR name = 'Mohammed Okonkwo'"
    )
    query_as(
        estate, "steward1", "SELECT count(*) FROM residents WHERE name LIKE 'Dai%' -- for Dai Pritchard's complaint"
    )
    query_as(
        estate,
        "analyst1",
        "SELECT postcode FROM residents WHERE person_id = 3",
        purpose="re-housing review for 9876543210",
    )
    with pytest.raises(AccessDenied, match="must state a purpose"):
        query_as(estate, "analyst1", "SELECT * FROM residents WHERE nhs_number = '4010232137'")
    with pytest.raises(AccessDenied, match="not a registered principal"):
        query_as(estate, "nobody", "SELECT * FROM residents")
    record_now(
        estate, principal="steward1", action="quarantine.read", purpose="fix rejected rows",
        dataset="residents", dataset_version=version, columns=["name", "nhs_number"], row_count=1,
    )  # fmt: skip
    record_now(
        estate, principal="api", action="data.read", purpose="case lookup", dataset="residents",
        dataset_version=version, columns=["name"], row_count=1, subjects=[Subject("nhs_number", "4010232137")],
        detail={"request": "GET /v1/residents/4010232137", "ni": "TW 29 48 17 B"},
    )  # fmt: skip
    who_accessed(estate, "nhs_number", "943 476 5919")
    record_now(estate, principal="dpo1", action="audit.who_accessed", subjects=[Subject("ni_number", "AB123456C")])
    export_checkpoint(estate, folder / "checkpoint.json")
