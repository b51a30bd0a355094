"""An estate with a people dataset, two agreements over it, a client of each and an objection; the API over it.

``server`` runs the API in a real uvicorn server on a free loopback port (a
thread with its own event loop: a real socket, real HTTP); ``client`` is the
in-process TestClient for details.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from joinedup.access import bootstrap_admin
from joinedup.api import ApiSettings, create_app
from joinedup.estate import Estate
from joinedup.ingest import ingest
from joinedup.schema import parse_schema
from joinedup.sharing.agreements import add_agreement
from joinedup.sharing.clients import add_client
from joinedup.sharing.objections import add_objection

ADMIN = "dana"
PEOPLE = """
fields:
  - {name: person_id, type: integer, constraints: {required: true}}
  - {name: name, type: string, personal: true, category: name}
  - {name: nhs_number, type: nhs_number, personal: true, category: identifier}
  - {name: postcode, type: postcode, personal: true, category: address}
  - {name: sex, type: string, constraints: {enum: [M, F, X, U]}}
primaryKey: [person_id]
"""
# Valid NHS numbers (mod 11); the objector is 9434765919.
ROWS = [
    (1, "Ann Lee", "9434765919", "SW1A 1AA", "F"),
    (2, "Bob Ray", "4010232137", "SW1A 1AA", "M"),
    (3, "Cy Oyo", "4857773457", "LS1 4AP", "X"),
    (4, "Di Fox", "9990001111", "LS1 4AP", "U"),
    (5, "Ed Tan", "9876543210", "M1 1AE", "M"),
    (6, "Flo Ng", "4505577104", "M1 1AE", "F"),
    (7, "Gus Orr", "6541237891", "SW1A 1AA", "M"),
]
OBJECTOR = "9434765919"

AGREEMENT = """
id: {id}
title: Housing research {id}
parties:
  - {{name: Example Council, role: controller}}
  - {{name: Partner University, role: controller, receives: true}}
purpose: Research into housing need
purpose_category: research
legal_gateway:
  name: Digital Economy Act 2017 Part 5
  objective: research
lawful_basis: {{article_6: public_task}}
datasets:
  - name: people
    fields: [person_id, nhs_number, postcode, sex]
    pseudonymised: [nhs_number]
    rows:
      - {{field: sex, op: ne, value: U}}
recipient_retention: {{period: 2 years, deletion: secure deletion}}
security: [Cyber Essentials Plus]
start: {start}
end: {end}
review: 2030-01-01
dpia: DPIA-2026-{id}
"""


@dataclass
class Shared:
    estate: Estate
    root: Path
    client_id: str
    secret: str
    other_id: str
    other_secret: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_agreement(tmp_path: Path, ident: str, start: str = "2026-01-01", end: str = "2030-12-31") -> Path:
    path = tmp_path / f"{ident}.yaml"
    path.write_text(AGREEMENT.format(id=ident, start=start, end=end), encoding="utf-8")
    return path


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Shared]:
    estate = Estate.create(tmp_path / "estate")
    bootstrap_admin(estate, ADMIN)
    csv = tmp_path / "people.csv"
    csv.write_text(
        "person_id,name,nhs_number,postcode,sex\n" + "".join(",".join(map(str, row)) + "\n" for row in ROWS),
        encoding="utf-8",
    )
    ingest(estate, csv, dataset="people", principal=ADMIN, schema=parse_schema(PEOPLE))
    add_agreement(estate, ADMIN, write_agreement(tmp_path, "DSA-A"))
    add_agreement(estate, ADMIN, write_agreement(tmp_path, "DSA-B"))
    first = add_client(estate, ADMIN, "uni-a", "DSA-A")
    second = add_client(estate, ADMIN, "uni-b", "DSA-B")
    add_objection(estate, ADMIN, nhs_number=OBJECTOR, purposes=("research",))
    yield Shared(estate, estate.root, first.client.id, first.secret, second.client.id, second.secret)
    estate.close()


@pytest.fixture
def client(shared: Shared) -> Iterator[TestClient]:
    with TestClient(create_app(shared.root, settings=ApiSettings()), raise_server_exceptions=False) as made:
        yield made


@dataclass
class Server:
    url: str
    http: httpx.Client


@pytest.fixture
def server(shared: Shared) -> Iterator[Server]:
    yield from run_server(shared.root, ApiSettings())


def run_server(root: Path, settings: ApiSettings) -> Iterator[Server]:
    port = free_port()
    config = uvicorn.Config(
        create_app(root, settings=settings), host="127.0.0.1", port=port, access_log=False, log_level="warning"
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not running.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the API server did not start")
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            yield Server(url, http)
    finally:
        running.should_exit = True
        thread.join(timeout=20)


def token_for(http: httpx.Client | TestClient, client_id: str, secret: str) -> str:
    answer = http.post(
        "/v1/token", data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
