"""An estate with people and visits, an agreement over them, and a client: what every sharing test starts from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from joinedup.access import add_principal
from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.schema import parse_schema
from joinedup.sharing.agreements import add_agreement
from joinedup.sharing.clients import Issued, add_client
from tests.conftest import PEOPLE_SCHEMA, CliResult, write_csv

VISITS_SCHEMA = """
title: Clinic visits
fields:
  - {name: visit_id, type: integer}
  - {name: nhs_number, type: nhs_number, personal: true, category: identifier}
  - {name: clinic, type: string}
  - {name: diagnosis, type: string, personal: true, category: health}
  - {name: seen_on, type: date}
  - {name: caution, type: string, personal: true, category: criminal_offence}
primaryKey: [visit_id]
"""
PEOPLE = """person_id,name,nhs_number,postcode,date_of_birth,sex
1,Zebedee Quartermaine,9434765919,LS1 4AP,1980-02-29,M
2,Alice Alpha,4000000004,SW1A 1AA,1970-01-01,F
3,Bella Beta,4000079190,M1 1AE,1971-02-02,F
4,Carla Gamma,4000158384,LS2 7EW,1972-03-03,X
5,Dan Delta,,SW1A 2AA,1973-04-04,M
"""
VISITS = """visit_id,nhs_number,clinic,diagnosis,seen_on,caution
10,9434765919,north,asthma,2025-01-05,
11,4000000004,south,eczema,2025-02-06,
12,4000158384,north,flu,2025-03-07,public order
"""
#: The person who objects in the tests.
OBJECTOR = "9434765919"


def agreement_doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "DSA-1",
        "title": "Housing support",
        "parties": [
            {"name": "Exampleshire Council", "role": "controller"},
            {"name": "Department for Work and Pensions", "role": "controller", "receives": True},
        ],
        "purpose": "identify residents eligible for housing support",
        "purpose_category": "service_delivery",
        "legal_gateway": {
            "name": "Digital Economy Act 2017 Part 5 (public service delivery)",
            "objective": "multiple disadvantages",
        },
        "lawful_basis": {"article_6": "public_task"},
        "datasets": [
            {
                "name": "people",
                "fields": ["person_id", "nhs_number", "postcode", "date_of_birth", "sex"],
                "pseudonymised": ["nhs_number"],
                "rows": [{"field": "sex", "op": "in", "value": ["M", "F"]}],
            }
        ],
        "recipient_retention": {"period": "P2Y", "deletion": "secure deletion, certificate within 30 days"},
        "security": ["OFFICIAL", "PSN connection"],
        "start": "2026-01-01",
        "end": "2099-12-31",
        "review": "2027-01-01",
        "dpia": "DPIA-2026-014",
    }
    doc.update(changes)
    return doc


@dataclass
class Shared:
    estate: Estate
    tmp: Path
    client: Issued

    def write(self, doc: dict[str, Any], name: str = "agreement.yaml") -> Path:
        path = self.tmp / name
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        return path

    def agree(self, **changes: Any) -> Any:
        return add_agreement(self.estate, "tester", self.write(agreement_doc(**changes), f"{changes.get('id')}.yaml"))


def load(estate: Estate, tmp: Path, name: str, schema: str, text: str) -> None:
    ingest(estate, write_csv(tmp / f"{name}.csv", text), dataset=name, principal="tester", schema=parse_schema(schema))


@pytest.fixture
def shared(estate: Estate, tmp_path: Path) -> Shared:
    return build(estate, tmp_path)


def build(estate: Estate, tmp_path: Path) -> Shared:
    """People and visits loaded, a dpo, analyst, steward and auditor, agreement DSA-1 and its client dwp-api."""
    load(estate, tmp_path, "people", PEOPLE_SCHEMA, PEOPLE)
    load(estate, tmp_path, "visits", VISITS_SCHEMA, VISITS)
    for name, role in (("dora", "dpo"), ("ann", "analyst"), ("stu", "steward"), ("aud", "auditor")):
        add_principal(estate, "tester", name, role, all_datasets=role in ("analyst", "steward"))
    made = Shared(estate, tmp_path, None)  # type: ignore[arg-type]
    made.agree(id="DSA-1")
    made.client = add_client(estate, "tester", "dwp-api", "DSA-1")
    return made


Cli = Callable[..., CliResult]
