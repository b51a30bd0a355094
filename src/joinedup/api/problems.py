"""Errors as RFC 9457 problem details (``application/problem+json``), for every error the API gives.

A problem says what was wrong in words a partner's developer can act on. It
never holds personal data, a value from the request (a filter's value can be an
NHS number) or a stack trace: ``detail`` is written here or taken from a
:class:`joinedup.errors.JoinedupError`, whose messages name fields and
datasets, never values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"
#: Problem types are URNs under this prefix; docs/api.md lists each one.
TYPE_PREFIX = "urn:joinedup:problem:"

TITLES = {
    400: "Bad request",
    401: "Unauthorised",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    413: "Request too large",
    415: "Unsupported media type",
    429: "Too many requests",
    500: "Internal server error",
    503: "Service unavailable",
}
SLUGS = {
    400: "bad-request",
    401: "unauthorised",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "request-too-large",
    415: "unsupported-media-type",
    429: "too-many-requests",
    500: "internal-error",
    503: "unavailable",
}


class Problem(BaseModel):
    """An error (RFC 9457). ``type`` identifies the kind of problem; docs/api.md lists them."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URN naming the kind of problem, e.g. urn:joinedup:problem:not-found.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What was wrong with this request, and what to do about it.")


@dataclass(frozen=True)
class Refusal:
    """Who an identified caller is, and why they were refused: what the ``access.denied`` entry says.

    Nothing here comes from the request's values: no token, record id or filter value (a filter's name is kept
    only when it is a field of the dataset).
    """

    principal: str
    client_id: str
    #: The agreement the caller acted under (the token's).
    agreement_id: str
    #: A slug: ``agreement-not-live``, ``not-permitted``, ``filter-not-permitted``, ``client-revoked`` ...
    reason: str
    #: The names of refused filters (each a field of the dataset, or ``?``).
    filters: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


class ApiProblem(Exception):
    """Raised anywhere in the API to answer with a problem; with ``refusal``, one audited before it is sent."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        refusal: Refusal | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug or SLUGS.get(status, "error")
        self.title = title or TITLES.get(status, "Error")
        self.headers = dict(headers or {})
        self.refusal = refusal


def problem_body(status: int, detail: str, *, slug: str | None = None, title: str | None = None) -> dict[str, Any]:
    return {
        "type": TYPE_PREFIX + (slug or SLUGS.get(status, "error")),
        "title": title or TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }


def problem_response(problem: ApiProblem) -> Response:
    body = problem_body(problem.status, problem.detail, slug=problem.slug, title=problem.title)
    return Response(
        json.dumps(body, ensure_ascii=False).encode(),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers={"Cache-Control": "no-store", **problem.headers},
    )


def problem_schema() -> dict[str, Any]:
    """The JSON Schema of a problem, for the OpenAPI document's components."""
    schema = Problem.model_json_schema()
    schema["required"] = ["type", "title", "status", "detail"]
    return schema


#: Descriptions of each error status for the OpenAPI document.
DESCRIPTIONS = {
    400: "The request is malformed: an unknown or unpermitted filter, a bad limit, or a cursor from another query.",
    401: "No bearer token, or one that is malformed, forged or expired. Request a token from /v1/token.",
    403: "The client's agreement is not live (not started, ended or revoked), or does not cover this dataset.",
    404: "No such dataset, or no such record (records of people who objected are not found either).",
    429: "The client's quota, or this address's quota of requests without a valid token, is used up; "
    "wait for the seconds in Retry-After.",
    503: "The access could not be recorded on the audit trail, so no data was sent; try again.",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` entry of an operation for these error statuses (problem+json, with the shared schema)."""
    made: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        made[status] = {
            "description": DESCRIPTIONS.get(status, TITLES[status]),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        if status == 429:
            made[status]["headers"] = {
                "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}
            }
        if status == 401:
            made[status]["headers"] = {
                "WWW-Authenticate": {"description": "The Bearer challenge (RFC 6750).", "schema": {"type": "string"}}
            }
    return made
