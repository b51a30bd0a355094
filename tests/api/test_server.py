"""The API over a real socket: a uvicorn server on a free loopback port, called with httpx."""

from __future__ import annotations

import base64
import os
import threading
from pathlib import Path

import httpx

from joinedup.api import ApiSettings
from joinedup.api.problems import PROBLEM_JSON
from joinedup.api.tokens import issue, token_key
from joinedup.audit import log, verify, who_accessed
from joinedup.sharing.agreements import revoke_agreement
from joinedup.sharing.clients import revoke_client
from tests.api.conftest import ADMIN, OBJECTOR, ROWS, Server, Shared, bearer, run_server, token_for

RECORDS = "/v1/datasets/people/records"


def _is_problem(answer: httpx.Response, status: int) -> dict[str, object]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_JSON), answer.headers
    body = answer.json()
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == status
    assert "Traceback" not in answer.text
    return dict(body)


def _all(http: httpx.Client, token: str, **params: str) -> list[dict[str, object]]:
    answer = http.get(RECORDS, params=params, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return list(answer.json()["data"])


def test_a_token_by_form_body_or_basic_and_rfc6749_errors(server: Server, shared: Shared) -> None:
    assert token_for(server.http, shared.client_id, shared.secret)
    basic = base64.b64encode(f"{shared.client_id}:{shared.secret}".encode()).decode()
    answer = server.http.post(
        "/v1/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert answer.status_code == 200 and answer.json()["token_type"] == "Bearer"
    assert answer.json()["expires_in"] == ApiSettings().token_ttl_seconds
    assert answer.headers["cache-control"] == "no-store"
    wrong = server.http.post(
        "/v1/token",
        data={"grant_type": "client_credentials", "client_id": shared.client_id, "client_secret": "guess"},
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")
    assert "guess" not in wrong.text
    grant = server.http.post("/v1/token", data={"grant_type": "password", "client_id": "x", "client_secret": "y"})
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    as_json = server.http.post("/v1/token", json={"grant_type": "client_credentials"})
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"


def test_only_the_agreed_fields_and_rows_and_nobody_who_objected(server: Server, shared: Shared) -> None:
    token = token_for(server.http, shared.client_id, shared.secret)
    records = _all(server.http, token)
    # Allowed fields only: no name. Rows: sex U filtered by the agreement; person 1 objected to research.
    assert all(set(r) == {"id", "person_id", "nhs_number", "postcode", "sex"} for r in records)
    assert sorted(int(str(r["person_id"])) for r in records) == [2, 3, 5, 6, 7]
    raw_numbers = {row[2] for row in ROWS}
    assert not raw_numbers.intersection(str(r["nhs_number"]) for r in records)  # pseudonymised
    assert "Ann Lee" not in server.http.get(RECORDS, headers=bearer(token)).text


def test_pseudonyms_are_stable_within_an_agreement_and_unlinkable_across(server: Server, shared: Shared) -> None:
    first = token_for(server.http, shared.client_id, shared.secret)
    other = token_for(server.http, shared.other_id, shared.other_secret)
    once = {r["person_id"]: r["nhs_number"] for r in _all(server.http, first)}
    again = {r["person_id"]: r["nhs_number"] for r in _all(server.http, first)}
    across = {r["person_id"]: r["nhs_number"] for r in _all(server.http, other)}
    assert once == again
    assert set(once) == set(across)
    assert not set(once.values()).intersection(across.values())


def test_pages_follow_the_cursor_and_a_cursor_from_another_query_is_refused(server: Server, shared: Shared) -> None:
    token = token_for(server.http, shared.client_id, shared.secret)
    seen: list[object] = []
    url: str | None = f"{RECORDS}?limit=2"
    pages = 0
    while url:
        answer = server.http.get(url, headers=bearer(token))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(body["data"]) <= 2 and body["meta"]["limit"] == 2
        seen += [r["person_id"] for r in body["data"]]
        url = body["links"]["next"]
        assert (url is None) == (body["next_cursor"] is None)
        pages += 1
    assert pages == 3 and sorted(seen) == [2, 3, 5, 6, 7]
    cursor = server.http.get(RECORDS, params={"limit": 2}, headers=bearer(token)).json()["next_cursor"]
    foreign = server.http.get(RECORDS, params={"limit": 2, "cursor": cursor, "sex": "M"}, headers=bearer(token))
    assert _is_problem(foreign, 400)["type"] == "urn:joinedup:problem:bad-cursor"
    other = token_for(server.http, shared.other_id, shared.other_secret)
    _is_problem(server.http.get(RECORDS, params={"limit": 2, "cursor": cursor}, headers=bearer(other)), 400)
    _is_problem(server.http.get(RECORDS, params={"cursor": "garbage"}, headers=bearer(token)), 400)


def test_filters_on_permitted_fields_only(server: Server, shared: Shared) -> None:
    token = token_for(server.http, shared.client_id, shared.secret)
    found = _all(server.http, token, postcode="SW1A 1AA")
    assert sorted(int(str(r["person_id"])) for r in found) == [2, 7]  # 1 objected
    refused = _is_problem(server.http.get(RECORDS, params={"name": "Ann Lee"}, headers=bearer(token)), 400)
    assert "Ann Lee" not in str(refused)
    _is_problem(server.http.get(RECORDS, params={"limit": "0"}, headers=bearer(token)), 400)
    _is_problem(server.http.get(RECORDS, params={"limit": "100000"}, headers=bearer(token)), 400)
    _is_problem(server.http.get(f"{RECORDS}?sex=M&sex=F", headers=bearer(token)), 400)


def test_one_record_by_id_and_an_objectors_record_is_not_found(server: Server, shared: Shared) -> None:
    token = token_for(server.http, shared.client_id, shared.secret)
    records = _all(server.http, token)
    for some in records:
        answer = server.http.get(f"{RECORDS}/{some['id']}", headers=bearer(token))
        assert answer.status_code == 200 and answer.json()["data"] == some
    other = token_for(server.http, shared.other_id, shared.other_secret)
    # Record ids are per agreement too: one agreement's id finds nothing under another.
    _is_problem(server.http.get(f"{RECORDS}/{records[0]['id']}", headers=bearer(other)), 404)
    _is_problem(server.http.get(f"{RECORDS}/not-a-record", headers=bearer(token)), 404)
    # A dataset outside the agreement is refused the same whether it exists or not (names are not probed).
    _is_problem(server.http.get("/v1/datasets/nothing/records", headers=bearer(token)), 403)


def test_no_bad_or_expired_token_is_401(server: Server, shared: Shared) -> None:
    missing = server.http.get(RECORDS)
    _is_problem(missing, 401)
    assert missing.headers["www-authenticate"].startswith("Bearer")
    _is_problem(server.http.get(RECORDS, headers=bearer("not.a.token")), 401)
    _is_problem(server.http.get(RECORDS, headers={"Authorization": "Basic eDp5"}), 401)
    expired, _ = issue(token_key(shared.estate), "estate", shared.client_id, "DSA-A", -1)
    body = _is_problem(server.http.get(RECORDS, headers=bearer(expired)), 401)
    assert "expired" in str(body["detail"])
    forged, _ = issue(b"x" * 32, "estate", shared.client_id, "DSA-A", 300)
    _is_problem(server.http.get(RECORDS, headers=bearer(forged)), 401)


def test_revoking_the_agreement_or_the_client_refuses_unexpired_tokens(server: Server, shared: Shared) -> None:
    first = token_for(server.http, shared.client_id, shared.secret)
    second = token_for(server.http, shared.other_id, shared.other_secret)
    assert server.http.get(RECORDS, headers=bearer(first)).status_code == 200
    revoke_agreement(shared.estate, ADMIN, "DSA-A", "partner no longer needs it")
    body = _is_problem(server.http.get(RECORDS, headers=bearer(first)), 403)
    assert "revoked" in str(body["detail"])
    after = server.http.post(
        "/v1/token",
        data={"grant_type": "client_credentials", "client_id": shared.client_id, "client_secret": shared.secret},
    )
    assert after.status_code == 400 and after.json()["error"] == "unauthorized_client"
    assert server.http.get(RECORDS, headers=bearer(second)).status_code == 200
    revoke_client(shared.estate, ADMIN, shared.other_id)
    _is_problem(server.http.get(RECORDS, headers=bearer(second)), 401)


def test_a_client_over_its_quota_gets_429_with_retry_after(shared: Shared) -> None:
    for server in run_server(shared.root, ApiSettings(quota_per_minute=1, quota_burst=2)):
        token = token_for(server.http, shared.client_id, shared.secret)  # from the client's token bucket
        page = server.http.get(RECORDS, headers=bearer(token))
        record = f"{RECORDS}/{page.json()['data'][0]['id']}"
        # The one-record read (answered before the router) draws on the same bucket.
        assert server.http.get(record, headers=bearer(token)).status_code == 200
        for limited in (
            server.http.get(RECORDS, headers=bearer(token)),
            server.http.get(record, headers=bearer(token)),
        ):
            _is_problem(limited, 429)
            assert int(limited.headers["retry-after"]) >= 1
        # Another client's bucket is its own.
        other = token_for(server.http, shared.other_id, shared.other_secret)
        assert server.http.get(RECORDS, headers=bearer(other)).status_code == 200


def test_every_read_is_audited_naming_the_client_and_who_accessed_finds_it(server: Server, shared: Shared) -> None:
    token = token_for(server.http, shared.client_id, shared.secret)
    _all(server.http, token, postcode="SW1A 1AA")
    reads = [e for e in log(shared.estate, limit=1000) if e.dataset == "people" and e.principal == "uni-a"]
    assert reads, "the read has no audit entry"
    assert all("DSA-A" in (e.purpose or "") for e in reads)
    assert all(OBJECTOR not in str(e.to_dict()) for e in reads)
    found = who_accessed(shared.estate, "nhs_number", "4010232137")  # person 2, returned
    assert any(a.entry.principal == "uni-a" for a in found.accesses)
    objected = who_accessed(shared.estate, "nhs_number", OBJECTOR)
    assert not any(a.entry.principal == "uni-a" for a in objected.accesses)
    assert verify(shared.estate).ok


def test_concurrent_reads_are_all_audited_and_the_chain_verifies(server: Server, shared: Shared) -> None:
    token = token_for(server.http, shared.client_id, shared.secret)
    before = len(log(shared.estate, limit=100_000))
    statuses: list[int] = []

    def read() -> None:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for _ in range(4):
                statuses.append(http.get(RECORDS, headers=bearer(token)).status_code)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 32
    after = log(shared.estate, limit=100_000)
    assert len(after) - before == 32
    assert verify(shared.estate).ok


def test_when_the_audit_entry_cannot_be_written_no_data_is_sent(server: Server, shared: Shared) -> None:
    token = token_for(server.http, shared.client_id, shared.secret)
    chain_key = Path(shared.root) / "keys" / "audit-chain.key"
    before = len(log(shared.estate, limit=100_000))
    os.chmod(chain_key, 0o644)  # the log refuses to append with a key others can read
    try:
        answer = server.http.get(RECORDS, headers=bearer(token))
        body = _is_problem(answer, 503)
        assert "audit" in str(body["detail"])
        assert "postcode" not in answer.text and "SW1A" not in answer.text
    finally:
        os.chmod(chain_key, 0o600)
    assert len(log(shared.estate, limit=100_000)) == before
    assert server.http.get(RECORDS, headers=bearer(token)).status_code == 200


def test_every_error_is_a_problem_document(server: Server, shared: Shared) -> None:
    _is_problem(server.http.get("/v1/nowhere"), 404)
    _is_problem(server.http.get("/nowhere"), 404)
    _is_problem(server.http.post("/v1/health"), 405)
    _is_problem(server.http.delete(RECORDS), 405)
    _is_problem(server.http.get("/v1/datasets/nothing"), 404)
    _is_problem(server.http.get("/v1/datasets/people"), 401)  # not open data: needs a token
