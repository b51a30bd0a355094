"""The API's own parts without a server: tokens, cursors, quotas, settings."""

from __future__ import annotations

import base64
import json
import os

import pytest

from joinedup.api import cursors
from joinedup.api.callers import Callers
from joinedup.api.problems import ApiProblem
from joinedup.api.quota import Quotas
from joinedup.api.settings import ApiSettings
from joinedup.api.tokens import InvalidToken, check, issue, token_key
from joinedup.errors import EstateError
from joinedup.estate import Estate


def test_a_token_carries_client_agreement_and_expiry_and_only_this_key_verifies_it(estate: Estate) -> None:
    key = token_key(estate)
    assert token_key(estate) == key  # made once, then read back
    assert os.stat(estate.keys_dir / "api-token.key").st_mode & 0o777 == 0o600
    token, claims = issue(key, "council", "c-1", "A-1", 300)
    got = check(key, token)
    assert (got.client_id, got.agreement_id) == ("c-1", "A-1")
    assert got == claims and 299 < got.expires_at - got.issued_at <= 300
    with pytest.raises(InvalidToken, match="expired"):
        check(key, token, now=claims.expires_at)
    with pytest.raises(InvalidToken, match="not issued by this service"):
        check(b"k" * 32, token)


def test_an_edited_or_malformed_token_is_refused(estate: Estate) -> None:
    key = token_key(estate)
    token, _ = issue(key, "council", "c-1", "A-1", 300)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["agreement_id"] = "A-2"  # another agreement, same signature
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    for bad in (f"{header}.{forged}.{signature}", "x.y", "", "a.b.c", token + "x", token.replace(header, "e30")):
        with pytest.raises(InvalidToken):
            check(key, bad)


def test_a_cursor_is_refused_with_another_query_or_when_edited(estate: Estate) -> None:
    key = token_key(estate)
    query = cursors.query_digest("A-1", "c-1", "people", {"postcode": "SW1A 1AA"})
    wrapped = cursors.wrap(key, query, "offset:100")
    assert cursors.unwrap(key, query, wrapped) == "offset:100"
    others = [
        cursors.query_digest("A-1", "c-1", "people", {"postcode": "SW1A 2AA"}),
        cursors.query_digest("A-1", "c-1", "visits", {"postcode": "SW1A 1AA"}),
        cursors.query_digest("A-2", "c-2", "people", {"postcode": "SW1A 1AA"}),
    ]
    for other in others:
        with pytest.raises(ApiProblem) as refused:
            cursors.unwrap(key, other, wrapped)
        assert refused.value.status == 400 and refused.value.slug == "bad-cursor"
    edited = wrapped[:-2] + ("AA" if not wrapped.endswith("AA") else "BB")
    for bad in (edited, "not a cursor", "", "x" * 5000):
        with pytest.raises(ApiProblem):
            cursors.unwrap(key, query, bad)


def test_a_quota_allows_its_burst_then_says_how_long_to_wait() -> None:
    quotas = Quotas(per_minute=60, burst=3)
    assert [quotas.take("c-1", now=100.0) for _ in range(3)] == [0, 0, 0]
    assert quotas.take("c-1", now=100.0) == 1  # one a second refills
    assert quotas.take("c-2", now=100.0) == 0  # each client has its own bucket
    assert quotas.take("c-1", now=101.0) == 0
    slow = Quotas(per_minute=1, burst=1)
    assert slow.take("c", now=0.0) == 0
    assert slow.take("c", now=0.0) == 60


def test_settings_come_from_the_api_section_and_bad_values_are_named() -> None:
    assert ApiSettings.from_mapping({}) == ApiSettings()
    assert ApiSettings.from_mapping({"quota_per_minute": 6000}).quota_per_minute == 6000
    for bad, named in (
        ({"quota_per_minute": 0}, "quota_per_minute"),
        ({"token_ttl_seconds": "5"}, "token_ttl_seconds"),
        ({"tokens": 1}, "no setting 'tokens'"),
        ({"page_limit_default": 50, "page_limit_max": 10}, "page_limit_default"),
        ({"audit_commit_delay_us": 20_000}, "audit_commit_delay_us must be a whole number from 0 to 10,000"),
        ({"anonymous_quota_per_minute": 0}, "anonymous_quota_per_minute must be a whole number from 1"),
        ({"anonymous_quota_burst": True}, "anonymous_quota_burst"),
    ):
        with pytest.raises(EstateError, match=named):
            ApiSettings.from_mapping(bad)


def test_a_token_checked_once_is_remembered_but_its_expiry_is_checked_on_every_request(
    estate: Estate, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = token_key(estate)
    callers = Callers(estate, key, 5)
    token, claims = issue(key, "council", "c-1", "A-1", 60)
    assert callers.claims(f"Bearer {token}") == claims
    assert callers.claims(f"Bearer {token}") == claims  # from memory
    later = claims.expires_at + 1
    monkeypatch.setattr("joinedup.api.callers.time.time", lambda: later)
    monkeypatch.setattr("joinedup.api.tokens.time.time", lambda: later)
    with pytest.raises(ApiProblem) as refused:
        callers.claims(f"Bearer {token}")
    assert refused.value.status == 401 and "expired" in refused.value.detail
    # A token whose signature does not check is never remembered as good.
    header, payload, _ = token.split(".")
    with pytest.raises(ApiProblem):
        callers.claims(f"Bearer {header}.{payload}.{'A' * 43}")
