"""The one-record read is answered before the router (``_HotRoute``): the same answers as the route, refusals too."""

from __future__ import annotations

import pytest
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.middleware.exceptions import ExceptionMiddleware

from joinedup.api import ApiSettings, create_app
from joinedup.api import app as app_module
from joinedup.api.app import RECORD_PATH
from joinedup.audit import log
from tests.api.conftest import Shared, bearer, token_for


def _ids(client: TestClient, headers: dict[str, str]) -> list[str]:
    page = client.get("/v1/datasets/people/records", headers=headers)
    assert page.status_code == 200, page.text
    return [record["id"] for record in page.json()["data"]]


def test_a_record_read_never_reaches_the_router(
    client: TestClient, shared: Shared, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = bearer(token_for(client, shared.client_id, shared.secret))
    ids = _ids(client, headers)

    def routed(*_: object) -> None:
        raise AssertionError("the record route's handler ran: the hot path was not taken")

    monkeypatch.setattr(APIRoute, "handle", routed)
    answer = client.get(f"/v1/datasets/people/records/{ids[0]}", headers=headers)
    assert answer.status_code == 200
    assert answer.json()["data"]["id"] == ids[0]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/datasets/people/records/{id}", 200),
        ("/v1/datasets/people/records/" + "0" * 32, 404),  # a record id of nothing the agreement sees
        ("/v1/datasets/people/records/not-an-id", 404),
        ("/v1/datasets/nowhere/records/{id}", 403),  # not shared under the agreement: audited
        # Spellings of the same request, and near misses: answered as the route answers them.
        ("/v1/datasets/peo%70le/records/{id}?limit=abc&cursor=x", 200),
        ("/v1/datasets/people/records/{id}%00", 404),
        ("/v1/datasets/9434765919/records/{id}", 403),  # a made-up name is kept as "?" only
    ],
)
def test_the_hot_path_answers_as_the_route_does(shared: Shared, path: str, status: int) -> None:
    app = create_app(shared.root, settings=ApiSettings())
    # The route alone: the router behind the app's exception handlers, without the middleware in front.
    routed_app = ExceptionMiddleware(AsyncExitStackMiddleware(app.router), handlers=app.exception_handlers)
    with TestClient(app, raise_server_exceptions=False) as hot, TestClient(routed_app) as routed:
        headers = bearer(token_for(hot, shared.client_id, shared.secret))
        record = _ids(hot, headers)[0]
        target = path.format(id=record)
        before = len(log(shared.estate))
        fast = hot.get(target, headers=headers)
        after_fast = log(shared.estate)[before:]
        slow = routed.get(target, headers=headers)
        after_slow = log(shared.estate)[before + len(after_fast) :]
    assert fast.status_code == status
    assert (fast.status_code, fast.headers["content-type"], fast.json()) == (
        slow.status_code,
        slow.headers["content-type"],
        slow.json(),
    )
    # Each wrote the same kind of entry (a read, a refusal, or nothing for a record that is not there).
    assert [(e.action, e.detail.get("attempted")) for e in after_fast] == [
        (e.action, e.detail.get("attempted")) for e in after_slow
    ]
    if fast.status_code == 403:
        assert after_fast[0].action == "access.denied"
        assert after_fast[0].detail["attempted"] == f"GET {RECORD_PATH}"
    # Nothing from the path itself is kept (the record id, a made-up name that could be a person's number).
    assert not any(text in str(e.to_dict()) for text in (record, "9434765919") for e in after_fast + after_slow)


def test_other_methods_on_a_record_go_to_the_router(client: TestClient, shared: Shared) -> None:
    headers = bearer(token_for(client, shared.client_id, shared.secret))
    record = _ids(client, headers)[0]
    answer = client.post(f"/v1/datasets/people/records/{record}", headers=headers)
    assert answer.status_code == 405
    assert answer.headers["content-type"] == "application/problem+json"


def test_an_unexpected_failure_on_the_hot_path_is_a_500_problem_and_the_log_quotes_nothing(
    client: TestClient, shared: Shared, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    headers = bearer(token_for(client, shared.client_id, shared.secret))
    record = _ids(client, headers)[0]

    async def broken(*_: object) -> None:
        raise RuntimeError("the record of NHS number 9434765919")

    monkeypatch.setattr(app_module, "_record_response", broken)
    answer = client.get(f"/v1/datasets/people/records/{record}", headers=headers)
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert "9434765919" not in answer.text
    assert "RuntimeError" in caplog.text and "9434765919" not in caplog.text


def test_a_record_read_without_a_valid_token_goes_the_usual_way(client: TestClient, shared: Shared) -> None:
    headers = bearer(token_for(client, shared.client_id, shared.secret))
    record = _ids(client, headers)[0]
    for sent in ({}, bearer("forged.token.here")):
        answer = client.get(f"/v1/datasets/people/records/{record}", headers=sent)
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"].startswith("Bearer")


def test_records_are_never_to_be_cached(client: TestClient, shared: Shared) -> None:
    headers = bearer(token_for(client, shared.client_id, shared.secret))
    page = client.get("/v1/datasets/people/records", headers=headers)
    one = client.get(f"/v1/datasets/people/records/{page.json()['data'][0]['id']}", headers=headers)
    assert page.status_code == one.status_code == 200
    assert page.headers["cache-control"] == one.headers["cache-control"] == "no-store"
