"""An estate with one planted person across datasets, versions and quarantine, and the principals erasure needs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from joinedup.access import add_principal, bootstrap_admin
from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.schema import parse_schema
from tests.conftest import PEOPLE_SCHEMA, CliResult, cli_runner, write_csv

VISITS_SCHEMA = """
title: Visits
fields:
  - name: visit_id
    type: integer
  - name: nhs_number
    type: nhs_number
    personal: true
    category: identifier
  - name: patient
    type: string
    format: person_name
    personal: true
    category: name
  - name: clinic
    type: string
primaryKey: [visit_id]
"""

#: The planted person: distinctive values, so a byte scan finding them means they were not erased.
NHS = "9434765919"
NAME = "Zebedee Quartermaine"


def nhs_number(seed: int) -> str:
    """A valid NHS number (mod 11) other than the planted one."""
    n = 400_000_000 + seed * 7919
    while True:
        digits = f"{n:09d}"
        check = 11 - sum(int(d) * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10 and digits + str(check) != NHS:
            return digits + str(check)
        n += 1


OTHERS = [(f"Person {chr(65 + i)}lpha", nhs_number(i)) for i in range(6)]


@dataclass
class Planted:
    estate: Estate
    cli: Callable[..., CliResult]
    tmp: Path


def _people_csv(tmp: Path, name: str, rows: list[str]) -> Path:
    header = "person_id,name,nhs_number,postcode,date_of_birth,sex"
    return write_csv(tmp / name, "\n".join([header, *rows]))


def plant(estate: Estate, tmp: Path) -> None:
    people = parse_schema(PEOPLE_SCHEMA)
    visits = parse_schema(VISITS_SCHEMA)
    others = [f"{i + 10},{n},{h},SW1A 1AA,1970-01-0{i + 1},F" for i, (n, h) in enumerate(OTHERS[:4])]
    v1 = _people_csv(tmp, "p1.csv", [f"1,{NAME},{NHS},LS1 4AP,1980-02-29,M", *others])
    ingest(estate, v1, dataset="people", principal="tester", schema=people)
    # Version 2 appends, with a ragged line quoting the person (too many columns) into quarantine.
    v2 = _people_csv(
        tmp,
        "p2.csv",
        [f"20,{OTHERS[4][0]},{OTHERS[4][1]},M1 1AE,1990-05-05,X", f"21,{NAME},943 476 5919,LS1 4AP,x,M,extra"],
    )
    ingest(estate, v2, dataset="people", principal="tester", schema=people, mode="append")
    rows = [f"{i},{h},{n},Leeds" for i, (n, h) in enumerate(OTHERS)]
    w1 = write_csv(tmp / "v1.csv", "\n".join(["visit_id,nhs_number,patient,clinic", *rows, f"99,{NHS},{NAME},Leeds"]))
    ingest(estate, w1, dataset="visits", principal="tester", schema=visits)
    w2 = write_csv(tmp / "v2.csv", "\n".join(["visit_id,nhs_number,patient,clinic", *rows, f"98,{NHS},{NAME},York"]))
    ingest(estate, w2, dataset="visits", principal="tester", schema=visits)


@pytest.fixture
def planted(tmp_path: Path) -> Iterator[Planted]:
    estate = Estate.create(tmp_path / "estate")
    bootstrap_admin(estate, "tester")
    add_principal(estate, "tester", "dora", "dpo")
    add_principal(estate, "tester", "dan", "dpo")
    add_principal(estate, "tester", "ann", "analyst", all_datasets=True)
    plant(estate, tmp_path)
    yield Planted(estate, cli_runner(estate.root), tmp_path)
    estate.close()
