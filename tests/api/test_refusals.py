"""A partner refused by the API is on the audit trail; anonymous junk is not, and is rate limited per address.

Each refusal of a caller the token (or its secret) identifies is one ``access.denied`` entry naming the client's
principal, committed before the response: the log is read right after it. Nothing from the request's values
(the token, a record id, a filter value) is kept: the raw catalogue file is searched for them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from joinedup.access import disable_principal, enable_principal
from joinedup.api import ApiSettings
from joinedup.api.tokens import issue, token_key
from joinedup.audit import AuditEntry, log, verify
from joinedup.ingest import ingest
from joinedup.schema import parse_schema
from joinedup.sharing.agreements import revoke_agreement
from joinedup.sharing.clients import revoke_client, rotate_client
from tests.api.conftest import ADMIN, Server, Shared, bearer, run_server, token_for
from tests.api.test_server import RECORDS, _is_problem
from tests.conftest import cli_runner

#: Filter values no catalogue table holds: were one kept, the raw file would show it.
NAME_VALUE = "Zebedee Quuxworth"
POSTCODE_VALUE = "ZZ9 9ZZ"


def _denied(shared: Shared) -> list[AuditEntry]:
    return log(shared.estate, action="access.denied", limit=None)


def _one_more(shared: Shared, before: list[AuditEntry]) -> AuditEntry:
    """The one access.denied entry written since ``before`` (read at once: it is committed before the answer)."""
    after = _denied(shared)
    assert len(after) == len(before) + 1, [e.detail for e in after[len(before) :]]
    return after[-1]


def _names_the_client(entry: AuditEntry, shared: Shared, reason: str, status: int, agreement: str = "DSA-A") -> None:
    assert entry.principal == "uni-a"
    assert entry.purpose == f"agreement {agreement}: Research into housing need"
    assert entry.detail["reason"] == reason
    assert entry.detail["status"] == status
    assert entry.detail["client"] == shared.client_id
    assert entry.detail["agreement"] == agreement


def _catalogue_bytes(shared: Shared) -> bytes:
    # The database file and its write-ahead log: an entry not yet checkpointed is in the latter.
    files = [shared.root / "catalogue.db", shared.root / "catalogue.db-wal"]
    return b"".join(path.read_bytes() for path in files if path.exists())


def _other_dataset(shared: Shared) -> None:
    other = shared.root.parent / "other.csv"
    other.write_text("a\n1\n", encoding="utf-8")
    schema = parse_schema("fields: [{name: a, type: integer}]")
    ingest(shared.estate, other, dataset="secret_project", principal=ADMIN, schema=schema)


def test_a_dataset_or_a_filter_outside_the_agreement_is_one_entry_naming_the_client(
    server: Server, shared: Shared
) -> None:
    _other_dataset(shared)
    token = token_for(server.http, shared.client_id, shared.secret)
    record_id = str(server.http.get(RECORDS, headers=bearer(token)).json()["data"][0]["id"])

    refusals = [
        # (request, status, reason, dataset the entry names, the route attempted)
        (f"/v1/datasets/secret_project/records?postcode={POSTCODE_VALUE}", 403, "not-permitted", "secret_project",
         "GET /v1/datasets/{name}/records"),
        (f"/v1/datasets/secret_project/records/{record_id}", 403, "not-permitted", "secret_project",
         "GET /v1/datasets/{name}/records/{record_id}"),
        ("/v1/datasets/secret_project", 403, "not-permitted", "secret_project", "GET /v1/datasets/{name}"),
        ("/v1/datasets/Zebedee%20Quuxworth/records", 403, "not-permitted", None, "GET /v1/datasets/{name}/records"),
        (f"{RECORDS}?name={NAME_VALUE}", 400, "filter-not-permitted", "people", "GET /v1/datasets/{name}/records"),
    ]  # fmt: skip
    for path, status, reason, dataset, attempted in refusals:
        before = _denied(shared)
        _is_problem(server.http.get(path, headers=bearer(token)), status)
        entry = _one_more(shared, before)
        _names_the_client(entry, shared, reason, status)
        assert entry.dataset == dataset, path
        assert entry.detail["attempted"] == attempted
        assert entry.detail["purpose_category"] == "research"

    # A dataset name the caller made up could be anything, a person's name too: the entry says only that.
    made_up = _denied(shared)[-2]
    assert made_up.dataset is None and made_up.detail["dataset"] == "?"
    assert _denied(shared)[-1].detail["filters"] == ["name"]
    # A filter's name is kept when it is a field of the dataset; one that is not could be anything.
    before = _denied(shared)
    answer = server.http.get(RECORDS, params={"Zebedee Quuxworth": POSTCODE_VALUE}, headers=bearer(token))
    _is_problem(answer, 400)
    assert _one_more(shared, before).detail["filters"] == ["?"]

    # A refused request's values are nowhere in the catalogue: not the token, the record id or a filter value.
    assert verify(shared.estate).ok
    raw = _catalogue_bytes(shared)
    for secret in (token, record_id, NAME_VALUE, POSTCODE_VALUE, "Zebedee"):
        assert secret.encode() not in raw, secret
    assert all(NAME_VALUE not in str(e.to_dict()) for e in _denied(shared))


def test_a_bad_limit_or_cursor_is_no_refusal_and_not_audited(server: Server, shared: Shared) -> None:
    token = token_for(server.http, shared.client_id, shared.secret)
    before = _denied(shared)
    _is_problem(server.http.get(RECORDS, params={"limit": "0"}, headers=bearer(token)), 400)
    _is_problem(server.http.get(RECORDS, params={"cursor": "garbage"}, headers=bearer(token)), 400)
    _is_problem(server.http.get(f"{RECORDS}/not-a-record", headers=bearer(token)), 404)
    assert _denied(shared) == before


def test_an_agreement_not_live_is_audited_on_reads_and_on_token_requests(server: Server, shared: Shared) -> None:
    token = token_for(server.http, shared.client_id, shared.secret)
    revoke_agreement(shared.estate, ADMIN, "DSA-A", "partner no longer needs it")
    for path in (RECORDS, "/v1/datasets/people", "/v1/datasets"):
        before = _denied(shared)
        _is_problem(server.http.get(path, headers=bearer(token)), 403)
        entry = _one_more(shared, before)
        _names_the_client(entry, shared, "agreement-not-live", 403)
        assert entry.dataset == ("people" if path != "/v1/datasets" else None)

    # The secret proves who asks for a token: refusing it is a refusal of an identified caller.
    before = _denied(shared)
    form = {"grant_type": "client_credentials", "client_id": shared.client_id, "client_secret": shared.secret}
    refused = server.http.post("/v1/token", data=form)
    assert refused.status_code == 400 and refused.json()["error"] == "unauthorized_client"
    entry = _one_more(shared, before)
    _names_the_client(entry, shared, "agreement-not-live", 400)
    assert entry.detail["attempted"] == "POST /v1/token"
    assert shared.secret.encode() not in _catalogue_bytes(shared)
    assert verify(shared.estate).ok


def test_the_right_secret_of_a_revoked_or_disabled_client_is_audited_and_answered_as_a_wrong_one(
    server: Server, shared: Shared
) -> None:
    def ask(secret: str) -> httpx.Response:
        form = {"grant_type": "client_credentials", "client_id": shared.client_id, "client_secret": secret}
        return server.http.post("/v1/token", data=form)

    def answered_as_a_wrong_secret(answer: httpx.Response) -> None:
        wrong = ask("guess")
        assert (answer.status_code, answer.json()) == (401, wrong.json())
        assert answer.headers["www-authenticate"] == wrong.headers["www-authenticate"] == 'Basic realm="joinedup"'

    everything = len(log(shared.estate, limit=None))
    disable_principal(shared.estate, ADMIN, "uni-a")
    before = _denied(shared)
    refused = ask(shared.secret)
    entry = _one_more(shared, before)  # committed before the answer: read at once
    _names_the_client(entry, shared, "client-disabled", 401)
    assert entry.detail["attempted"] == "POST /v1/token" and entry.dataset is None
    answered_as_a_wrong_secret(refused)

    enable_principal(shared.estate, ADMIN, "uni-a")
    old = shared.secret
    rotated = rotate_client(shared.estate, ADMIN, shared.client_id).secret
    revoke_client(shared.estate, ADMIN, shared.client_id)
    before = _denied(shared)
    refused = ask(rotated)
    _names_the_client(_one_more(shared, before), shared, "client-revoked", 401)
    answered_as_a_wrong_secret(refused)
    # Over HTTP Basic too.
    before = _denied(shared)
    basic = server.http.post("/v1/token", data={"grant_type": "client_credentials"}, auth=(shared.client_id, rotated))
    _names_the_client(_one_more(shared, before), shared, "client-revoked", 401)
    answered_as_a_wrong_secret(basic)

    # A wrong secret, the secret from before the rotation or an unknown id proves nothing: never on the trail.
    before = _denied(shared)
    for client_id, secret in ((shared.client_id, "guess"), (shared.client_id, old), ("jdc_nobody", rotated)):
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        assert server.http.post("/v1/token", data=form).status_code == 401
    assert _denied(shared) == before
    # Besides the entries of the changes made here, only the three refusals were written.
    added = [e.action for e in log(shared.estate, limit=None)[everything:]]
    assert sorted(added) == sorted(
        ["principal.disable", "principal.enable", "client.rotate", "client.revoke"] + ["access.denied"] * 3
    ), added

    assert verify(shared.estate).ok
    raw = _catalogue_bytes(shared)
    assert rotated.encode() not in raw and old.encode() not in raw


def test_a_verified_token_of_a_client_refused_since_is_audited(server: Server, shared: Shared) -> None:
    key = token_key(shared.estate)
    # Issued under another agreement than the client's: as after the client moved to another agreement.
    moved, _ = issue(key, "estate", shared.client_id, "DSA-B", 300)
    before = _denied(shared)
    _is_problem(server.http.get(RECORDS, headers=bearer(moved)), 401)
    entry = _one_more(shared, before)
    _names_the_client(entry, shared, "agreement-changed", 401, agreement="DSA-B")
    assert entry.detail["client_agreement"] == "DSA-A"

    tokens = []
    old = token_for(server.http, shared.client_id, shared.secret)
    rotate_client(shared.estate, ADMIN, shared.client_id)
    tokens.append(old)
    before = _denied(shared)
    _is_problem(server.http.get(RECORDS, headers=bearer(old)), 401)
    _names_the_client(_one_more(shared, before), shared, "secret-rotated", 401)

    fresh, _ = issue(key, "estate", shared.client_id, "DSA-A", 300)
    tokens.append(fresh)
    disable_principal(shared.estate, ADMIN, "uni-a")
    before = _denied(shared)
    _is_problem(server.http.get(f"{RECORDS}/some-record-id", headers=bearer(fresh)), 401)
    entry = _one_more(shared, before)
    _names_the_client(entry, shared, "client-disabled", 401)
    assert entry.dataset == "people"

    revoke_client(shared.estate, ADMIN, shared.client_id)
    before = _denied(shared)
    _is_problem(server.http.get("/v1/datasets", headers=bearer(fresh)), 401)
    _names_the_client(_one_more(shared, before), shared, "client-revoked", 401)

    assert verify(shared.estate).ok
    raw = _catalogue_bytes(shared)
    assert not any(token.encode() in raw for token in [moved, *tokens])
    assert b"some-record-id" not in raw


def test_anonymous_junk_is_not_audited(server: Server, shared: Shared) -> None:
    everything = len(log(shared.estate, limit=None))
    forged, _ = issue(b"x" * 32, "estate", shared.client_id, "DSA-A", 300)
    expired, _ = issue(token_key(shared.estate), "estate", shared.client_id, "DSA-A", -1)
    for headers in ({}, bearer("not.a.token"), bearer(forged), bearer(expired), {"Authorization": "Basic eDp5"}):
        _is_problem(server.http.get(RECORDS, headers=headers), 401)
    wrong = {"grant_type": "client_credentials", "client_id": shared.client_id, "client_secret": "guess"}
    assert server.http.post("/v1/token", data=wrong).status_code == 401
    assert len(log(shared.estate, limit=None)) == everything


def test_when_a_refusal_cannot_be_recorded_it_is_still_the_refusal_and_logged(
    server: Server, shared: Shared, caplog: pytest.LogCaptureFixture
) -> None:
    token = token_for(server.http, shared.client_id, shared.secret)
    chain_key = Path(shared.root) / "keys" / "audit-chain.key"
    before = len(log(shared.estate, limit=None))
    os.chmod(chain_key, 0o644)  # the log refuses to append with a key others can read
    try:
        with caplog.at_level(logging.ERROR, logger="joinedup.api"):
            answer = server.http.get(RECORDS, params={"name": NAME_VALUE}, headers=bearer(token))
    finally:
        os.chmod(chain_key, 0o600)
    _is_problem(answer, 400)
    assert len(log(shared.estate, limit=None)) == before
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("refusal could not be recorded" in m for m in errors), errors
    assert not any(NAME_VALUE in m or token in m or shared.client_id in m for m in errors)


@pytest.fixture
def tight(shared: Shared) -> Iterator[Server]:
    yield from run_server(shared.root, ApiSettings(anonymous_quota_per_minute=1, anonymous_quota_burst=3))


def _limited(answers: list[httpx.Response]) -> None:
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    for answer in limited:
        body = _is_problem(answer, 429)
        assert body["type"] == "urn:joinedup:problem:too-many-requests"
        assert int(answer.headers["retry-after"]) >= 1


def test_anonymous_floods_get_429_and_write_nothing_while_partners_read_on(tight: Server, shared: Shared) -> None:
    everything = len(log(shared.estate, limit=None))
    token = token_for(tight.http, shared.client_id, shared.secret)  # a token request that succeeds is not counted
    token_for(tight.http, shared.client_id, shared.secret)
    token_for(tight.http, shared.client_id, shared.secret)
    token_for(tight.http, shared.client_id, shared.secret)

    junk_token = {"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
    floods: list[tuple[str, str, dict[str, str], dict[str, str] | None]] = [
        ("GET", "/v1/agreements", {}, None),
        ("GET", "/v1/datasets", {}, None),
        ("GET", "/v1/health", {}, None),
        ("GET", RECORDS, bearer("not.a.token"), None),
        ("POST", "/v1/token", {}, junk_token),
    ]
    for index, (method, path, extra, form) in enumerate(floods):
        # Each flood from an address of its own (uvicorn takes it from a proxy on loopback), each used up.
        address = {"X-Forwarded-For": f"192.0.2.{index + 1}"}
        answers = [tight.http.request(method, path, headers={**address, **extra}, data=form) for _ in range(5)]
        assert [a.status_code for a in answers][:3] != [429] * 3, "the burst was not allowed"
        _limited(answers)
        # The address is used up for every request without a token, whatever the path ...
        _is_problem(tight.http.get("/v1/agreements", headers=address), 429)
        # ... and for a wrong secret, before it is checked; but a partner's token still reads from there.
        wrong = {"grant_type": "client_credentials", "client_id": shared.client_id, "client_secret": "guess"}
        _is_problem(tight.http.post("/v1/token", data=wrong, headers=address), 429)
        assert tight.http.get(RECORDS, headers={**address, **bearer(token)}).status_code == 200

    # Another address has its own bucket.
    assert tight.http.get("/v1/agreements", headers={"X-Forwarded-For": "198.51.100.7"}).status_code == 200
    added = log(shared.estate, limit=None)[everything:]
    assert {e.action for e in added} <= {"api.token", "sharing.read"}
    assert verify(shared.estate).ok


def test_access_denied_entries_show_in_audit_log_and_not_in_who_accessed(server: Server, shared: Shared) -> None:
    token = token_for(server.http, shared.client_id, shared.secret)
    assert server.http.get(RECORDS, headers=bearer(token)).status_code == 200
    _is_problem(server.http.get(RECORDS, params={"name": NAME_VALUE}, headers=bearer(token)), 400)
    _is_problem(server.http.get("/v1/datasets/nothing/records", headers=bearer(token)), 403)
    jd = cli_runner(shared.root)
    listed = jd("audit", "log", "--action", "access.denied", "--json", user=ADMIN)
    assert listed.exit_code == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert [(e["principal"], e["detail"]["reason"]) for e in entries] == [
        ("uni-a", "filter-not-permitted"),
        ("uni-a", "not-permitted"),
    ]
    mine = jd("audit", "log", "--principal", "UNI-A", "--action", "access.denied", "--json", user=ADMIN)
    assert [e["seq"] for e in json.loads(mine.stdout)] == [e["seq"] for e in entries]
    # A refusal read nobody's data: who-accessed, which lists accesses to a person's data, leaves it out.
    found = jd("audit", "who-accessed", "--nhs-number", "4010232137", "--json", user=ADMIN)
    assert found.exit_code == 0, found.stderr
    actions = {a["action"] for a in json.loads(found.stdout)["accesses"]}
    assert "sharing.read" in actions and "access.denied" not in actions
