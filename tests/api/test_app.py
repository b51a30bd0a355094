"""Details through the in-process test client: the OpenAPI document, the catalogue, the register, health, 500s."""

from __future__ import annotations

import re
import shutil

from fastapi.testclient import TestClient

from joinedup.api.problems import PROBLEM_JSON
from tests.api.conftest import Shared, bearer, token_for

SNAKE = re.compile(r"[a-z][a-z0-9_]*")


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        found = set(value)
        for inner in value.values():
            found |= _keys(inner)
        return found
    if isinstance(value, list):
        return set().union(*(_keys(v) for v in value)) if value else set()
    return set()


def test_the_openapi_document_is_31_versioned_secured_and_documents_every_error(client: TestClient) -> None:
    document = client.get("/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert all(path.startswith("/v1/") for path in document["paths"])
    schemes = document["components"]["securitySchemes"]
    assert schemes["oauth2"]["flows"]["clientCredentials"]["tokenUrl"] == "/v1/token"
    assert schemes["bearer"]["scheme"] == "bearer"
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    expected = {
        ("post", "/v1/token"): {"400", "401", "429", "500"},
        ("get", "/v1/datasets"): {"401", "403", "429", "500"},
        ("get", "/v1/datasets/{name}"): {"401", "403", "404", "429", "500"},
        ("get", "/v1/datasets/{name}/records"): {"400", "401", "403", "404", "429", "503", "500"},
        ("get", "/v1/datasets/{name}/records/{record_id}"): {"401", "403", "404", "429", "503", "500"},
        ("get", "/v1/agreements"): {"429", "500"},
        ("get", "/v1/health"): {"429", "500"},
    }
    found = {(m, p): op for p, ops in document["paths"].items() for m, op in ops.items()}
    assert set(found) == set(expected)
    for where, statuses in expected.items():
        operation = found[where]
        assert {s for s in operation["responses"] if s != "200"} == statuses, where
        assert "422" not in operation["responses"]
        for status in statuses - {"400", "401"} if where[1] == "/v1/token" else statuses:
            assert PROBLEM_JSON in operation["responses"][status]["content"], (where, status)
    records = found[("get", "/v1/datasets/{name}/records")]
    assert records["security"] == [{"bearer": []}, {"oauth2": []}]
    assert {p["name"] for p in records["parameters"]} >= {"cursor", "limit", "filters", "name"}
    assert {} in found[("get", "/v1/datasets")]["security"]  # open data needs no token
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_the_catalogue_without_a_token_shows_open_data_only_and_with_one_the_agreements(
    client: TestClient, shared: Shared
) -> None:
    assert client.get("/v1/datasets").json() == {"data": []}  # nothing released as open data here
    token = token_for(client, shared.client_id, shared.secret)
    listed = client.get("/v1/datasets", headers=bearer(token)).json()["data"]
    assert [(d["name"], d["shared"], d["open"]) for d in listed] == [("people", True, False)]
    assert listed[0]["links"]["records"] == "/v1/datasets/people/records"
    detail = client.get("/v1/datasets/people", headers=bearer(token)).json()
    assert [(f["name"], f["pseudonymised"]) for f in detail["fields"]] == [
        ("person_id", False),
        ("nhs_number", True),
        ("postcode", False),
        ("sex", False),
    ]
    assert detail["version"] == 1
    for body in (listed, detail):
        assert all(SNAKE.fullmatch(key) for key in _keys(body))


def test_the_public_register_lists_agreements_and_nothing_secret(client: TestClient, shared: Shared) -> None:
    answer = client.get("/v1/agreements")
    assert answer.status_code == 200
    register = answer.json()["data"]
    assert {a["id"] for a in register} == {"DSA-A", "DSA-B"}
    assert all(a["status"] == "live" for a in register)
    text = answer.text
    assert shared.secret not in text and shared.client_id not in text and "uni-a" not in text
    assert re.search(r'"start":"\d{4}-\d{2}-\d{2}"', text)  # ISO 8601 dates


def test_health(client: TestClient) -> None:
    answer = client.get("/v1/health")
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T[\d:.]+Z", answer.json()["time"])


def test_an_unexpected_failure_is_a_500_problem_without_details(client: TestClient, shared: Shared) -> None:
    token = token_for(client, shared.client_id, shared.secret)
    # The dataset's files gone from under the estate: nothing a request could have done, so a 500.
    shutil.rmtree(shared.root / "data" / "people")
    answer = client.get("/v1/datasets/people/records", headers=bearer(token))
    assert answer.status_code == 500, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM_JSON)
    body = answer.json()
    assert set(body) == {"type", "title", "status", "detail"}
    assert "Traceback" not in answer.text and str(shared.root) not in answer.text


def test_a_validation_error_is_a_400_problem(client: TestClient) -> None:
    answer = client.post("/v1/token", content=b"grant_type=client_credentials&client_id=x&client_id=y",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
