"""One record over a real socket, answered from the agreement's view: changes take effect on the next request."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from joinedup.audit import log
from joinedup.sharing.agreements import revoke_agreement
from joinedup.sharing.objections import add_objection, withdraw_objection
from joinedup.sharing.views import VIEWS
from tests.api.conftest import ADMIN, ROWS, Server, Shared, bearer, token_for

RECORDS = "/v1/datasets/people/records"


def _by_person(server: Server, token: str) -> dict[int, dict[str, object]]:
    answer = server.http.get(RECORDS, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return {int(str(r["person_id"])): r for r in answer.json()["data"]}


def _one(server: Server, token: str, record_id: object) -> httpx.Response:
    return server.http.get(f"{RECORDS}/{record_id}", headers=bearer(token))


def test_an_objection_and_a_revocation_apply_to_the_next_request(server: Server, shared: Shared) -> None:
    token = token_for(server.http, shared.client_id, shared.secret)
    everyone = _by_person(server, token)
    bob = everyone[2]
    assert _one(server, token, bob["id"]).json()["data"] == bob
    assert VIEWS.held(os.fspath(shared.root), "DSA-A") == 1
    objection = add_objection(shared.estate, ADMIN, nhs_number=str(ROWS[1][2]), purposes=("research",))
    gone = _one(server, token, bob["id"])
    assert gone.status_code == 404 and "SW1A" not in gone.text
    withdraw_objection(shared.estate, ADMIN, objection.id)
    assert _one(server, token, bob["id"]).json()["data"] == bob
    revoke_agreement(shared.estate, ADMIN, "DSA-A", "partner no longer needs it")
    refused = _one(server, token, bob["id"])
    assert refused.status_code == 403 and "revoked" in refused.json()["detail"]
    # Every response that carried data was audited: the page and the two reads of Bob that succeeded.
    reads = [e for e in log(shared.estate, action="sharing.read") if e.principal == "uni-a"]
    assert len(reads) == 1 + 2


def test_when_the_audit_entry_cannot_be_written_no_record_is_sent(server: Server, shared: Shared) -> None:
    token = token_for(server.http, shared.client_id, shared.secret)
    bob = _by_person(server, token)[2]
    chain_key = Path(shared.root) / "keys" / "audit-chain.key"
    before = len(log(shared.estate, limit=100_000))
    os.chmod(chain_key, 0o644)  # the log refuses to append with a key others can read
    try:
        answer = _one(server, token, bob["id"])
        assert answer.status_code == 503 and "audit" in answer.json()["detail"]
        assert "SW1A" not in answer.text and str(bob["nhs_number"]) not in answer.text
    finally:
        os.chmod(chain_key, 0o600)
    assert len(log(shared.estate, limit=100_000)) == before
    assert _one(server, token, bob["id"]).json()["data"] == bob
