"""A hostile partner and an outside attacker against a real server: each test names the attack.

Each failed before its fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from joinedup.access import disable_principal, enable_principal
from joinedup.api import ApiSettings, create_app
from joinedup.api.quota import Quotas, address_key
from joinedup.api.tokens import InvalidToken, check, issue, token_key
from joinedup.estate import Estate
from joinedup.sharing.clients import rotate_client
from tests.api.conftest import ADMIN, Server, Shared, bearer, run_server, token_for
from tests.api.test_server import RECORDS, _is_problem
from tests.sharing.test_postgres import pg_estate  # noqa: F401 (a fixture)


def test_disabling_a_clients_principal_refuses_its_unexpired_tokens(server: Server, shared: Shared) -> None:
    token = token_for(server.http, shared.client_id, shared.secret)
    assert server.http.get(RECORDS, headers=bearer(token)).status_code == 200
    disable_principal(shared.estate, ADMIN, "uni-a")
    _is_problem(server.http.get(RECORDS, headers=bearer(token)), 401)
    enable_principal(shared.estate, ADMIN, "uni-a")
    assert server.http.get(RECORDS, headers=bearer(token)).status_code == 200


def test_a_token_is_accepted_only_in_its_one_encoding(estate: Estate) -> None:
    key = token_key(estate)
    token, _ = issue(key, "council", "c-1", "A-1", 300)
    header, payload, signature = token.split(".")
    # The same signature bytes written otherwise: padding, or other values in the unused low bits of the last digit.
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = signature[:-1] + last[last.index(signature[-1]) ^ 1]
    for variant in (f"{token}=", f"{token}==", f"{header}.{payload}.{twin}", f"{header}.{payload}=.{signature}"):
        with pytest.raises(InvalidToken, match="malformed"):
            check(key, variant)
    assert check(key, token).client_id == "c-1"


@pytest.mark.parametrize("limit", ["²", "١٢", "1_0", " 5", "+5", "9" * 5000])
def test_a_limit_of_unusual_digits_is_a_400_not_a_500(server: Server, shared: Shared, limit: str) -> None:
    token = token_for(server.http, shared.client_id, shared.secret)
    _is_problem(server.http.get(RECORDS, params={"limit": limit}, headers=bearer(token)), 400)


def test_a_page_limit_max_the_settings_allow_is_one_the_reads_allow(shared: Shared) -> None:
    for server in run_server(shared.root, ApiSettings(page_limit_max=5000)):
        token = token_for(server.http, shared.client_id, shared.secret)
        answer = server.http.get(RECORDS, params={"limit": "2000"}, headers=bearer(token))
        assert answer.status_code == 200, answer.text
        assert answer.json()["meta"]["limit"] == 2000


def test_failed_token_requests_with_a_clients_id_do_not_use_up_its_reads(shared: Shared) -> None:
    # Client ids are not secret (they are in the audit trail and in mail): guessing secrets under a partner's id
    # must not lock the partner out of reading.
    for server in run_server(shared.root, ApiSettings(quota_per_minute=1, quota_burst=3)):
        token = token_for(server.http, shared.client_id, shared.secret)
        for _ in range(5):
            server.http.post(
                "/v1/token",
                data={"grant_type": "client_credentials", "client_id": shared.client_id, "client_secret": "guess"},
            )
        assert server.http.get(RECORDS, headers=bearer(token)).status_code == 200


def test_token_requests_with_made_up_client_ids_do_not_grow_the_servers_memory(shared: Shared) -> None:
    # The address's own quota raised, so every request reaches the per-client buckets.
    settings = ApiSettings(anonymous_quota_per_minute=1_000_000, anonymous_quota_burst=100_000)
    with TestClient(create_app(shared.root, settings=settings), raise_server_exceptions=False) as client:
        quotas: Quotas = client.app.state.service.quotas  # type: ignore[attr-defined]
        before = len(quotas)
        for index in range(200):
            answer = client.post(
                "/v1/token",
                data={"grant_type": "client_credentials", "client_id": f"jdc_made_up_{index}", "client_secret": "x"},
            )
            assert answer.status_code in (401, 429)
        assert len(quotas) <= before + 1


def test_requests_from_ever_more_addresses_do_not_grow_the_servers_memory() -> None:
    buckets = Quotas(60, 2, max_keys=100)
    for index in range(1000):
        buckets.take(address_key(f"10.0.{index // 256}.{index % 256}"), now=0.0)
    assert len(buckets) <= 101
    # Once their buckets have refilled, new addresses get buckets of their own again.
    assert buckets.take("192.0.2.1", now=10.0) == 0 and len(buckets) == 1


def test_an_ipv6_site_is_one_address() -> None:
    # A site is given a /64: counting each of its addresses would give it 2**64 buckets.
    assert address_key("2001:db8::1") == address_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert address_key("2001:db8:0:1::1") != address_key("2001:db8::1")
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_key(None) == "(unknown)"


def test_a_dataset_outside_the_agreement_is_403_whether_or_not_it_exists(server: Server, shared: Shared) -> None:
    token = token_for(server.http, shared.client_id, shared.secret)
    estate = shared.estate
    from joinedup.ingest import ingest
    from joinedup.schema import parse_schema

    other = shared.root.parent / "other.csv"
    other.write_text("a\n1\n", encoding="utf-8")
    ingest(
        estate,
        other,
        dataset="secret_project",
        principal=ADMIN,
        schema=parse_schema("fields: [{name: a, type: integer}]"),
    )
    seen = []
    for name in ("secret_project", "no_such_dataset"):
        body = _is_problem(server.http.get(f"/v1/datasets/{name}", headers=bearer(token)), 403)
        assert body["type"] == "urn:joinedup:problem:not-permitted"
        seen.append(str(body["detail"]).replace(name, "NAME"))
    assert seen[0] == seen[1]


def test_a_token_issued_just_after_a_rotation_is_accepted(server: Server, shared: Shared) -> None:
    # Rotation, then a token at once (as an automated rotation does): tokens carried whole seconds, so a token
    # issued in the same second as the rotation counted as older than it and was refused for its whole life.
    old = token_for(server.http, shared.client_id, shared.secret)
    for _ in range(3):
        secret = rotate_client(shared.estate, ADMIN, shared.client_id).secret
        token = token_for(server.http, shared.client_id, secret)
        assert server.http.get(RECORDS, headers=bearer(token)).status_code == 200
        # ... and a token from before the rotation, even a moment before, is refused.
        body = _is_problem(server.http.get(RECORDS, headers=bearer(old)), 401)
        assert "rotated" in str(body["detail"])
        old = token


def test_a_fault_of_the_estate_is_a_500_that_names_no_server_path(server: Server, shared: Shared) -> None:
    # A key an operator left readable by others: the partner gets neither a 400 blaming its request nor the
    # estate's path on the server.
    token = token_for(server.http, shared.client_id, shared.secret)
    key = shared.estate.keys_dir / "sharing" / "DSA-A.key"
    key.chmod(0o644)
    try:
        body = _is_problem(server.http.get(RECORDS, headers=bearer(token)), 500)
        assert str(shared.root) not in str(body["detail"]) and "keys" not in str(body["detail"])
    finally:
        key.chmod(0o600)
    assert server.http.get(RECORDS, headers=bearer(token)).status_code == 200


def test_a_cursor_outliving_its_dataset_version_is_a_bad_cursor(server: Server, shared: Shared) -> None:
    from joinedup.ingest import ingest

    token = token_for(server.http, shared.client_id, shared.secret)
    first = server.http.get(RECORDS, params={"limit": "2"}, headers=bearer(token)).json()
    csv = shared.root.parent / "people.csv"
    ingest(shared.estate, csv, dataset="people", principal=ADMIN)  # a new version: the old position means nothing
    body = _is_problem(server.http.get(first["links"]["next"], headers=bearer(token)), 400)
    assert body["type"] == "urn:joinedup:problem:bad-cursor"


@pytest.mark.postgres
def test_the_per_request_client_check_works_on_postgresql(pg_estate: Estate, tmp_path: Path) -> None:  # noqa: F811
    from joinedup.api.callers import Callers
    from joinedup.api.problems import ApiProblem
    from tests.sharing.conftest import build

    made = build(pg_estate, tmp_path)
    key = token_key(pg_estate)
    token, _ = issue(key, "estate", made.client.client.id, "DSA-1", 300)
    callers = Callers(pg_estate, key, 5)
    assert callers.caller(callers.claims(f"Bearer {token}")).client.name == "dwp-api"
    disable_principal(pg_estate, "tester", "dwp-api")
    with pytest.raises(ApiProblem) as refused:
        callers.caller(callers.claims(f"Bearer {token}"))
    assert refused.value.status == 401 and "disabled" in refused.value.detail
