"""An estate with a small people-like dataset for publishing."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.schema import parse_schema

SCHEMA = """
title: Residents
fields:
 - {name: person_id, type: integer}
 - {name: name, type: string, personal: true, category: name}
 - {name: nhs_number, type: nhs_number, personal: true, category: identifier}
 - {name: la_code, type: gss_code}
 - {name: year, type: integer}
 - {name: amount, type: number}
 - {name: note, type: string}
"""
NHS = "9434765919"


def load(estate: Estate, tmp_path: Path, notes: dict[int, str] | None = None, rows: int = 300) -> None:
    chooser = random.Random(7)
    lines = ["person_id,name,nhs_number,la_code,year,amount,note"]
    for i in range(rows):
        la = f"E0600000{chooser.choice('1234')}"
        note = '"' + (notes or {}).get(i, "ok").replace('"', '""') + '"'
        lines.append(f"{i},Resident Number{i},{NHS},{la},{chooser.choice([2020, 2021])},{i % 50}.5,{note}")
    lines.append(f"{rows},Lonely Person,{NHS},E06000009,2020,1.5,ok")
    path = tmp_path / "residents.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    ingest(estate, path, dataset="residents", principal="tester", schema=parse_schema(SCHEMA))


@pytest.fixture
def residents(estate: Estate, tmp_path: Path) -> Estate:
    load(estate, tmp_path)
    return estate
