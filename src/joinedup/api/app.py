"""The FastAPI application: /v1 for partners under sharing agreements (see docs/api.md).

Every request's path is: check the bearer token (in memory), take one from the
client's quota, look up the client's and agreement's revocation (one small
query), read what the agreement allows through :mod:`joinedup.sharing`, commit
the audit entry (group commit: concurrent requests share a transaction, each
waits for its own), and only then answer. Any failure on the way is a problem
document, never data. A refusal of a caller the token identifies (its agreement
not live, a dataset or filter outside it, its client revoked) is audited as
``access.denied`` before it is sent; a request carrying no valid token identifies
nobody, so it is counted against its remote address instead. The read partners
make most, one record with a valid token, is answered before FastAPI's own
machinery (:class:`_HotRoute`), by the same handler and error handlers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from joinedup import __version__
from joinedup.access.authorize import DENIED
from joinedup.api import cursors, token_endpoint
from joinedup.api.callers import Caller, Callers, unauthorised
from joinedup.api.jsonable import dumps
from joinedup.api.models import (
    AgreementRegister,
    DatasetDetail,
    DatasetList,
    Health,
    OneRecord,
    RecordPage,
    TokenError,
    TokenResponse,
)
from joinedup.api.problems import (
    PROBLEM_JSON,
    ApiProblem,
    Refusal,
    documented,
    problem_response,
    problem_schema,
)
from joinedup.api.quota import Quotas, remote_address
from joinedup.api.settings import ApiSettings
from joinedup.api.tokens import token_key
from joinedup.audit import GroupCommitter
from joinedup.errors import BusyError, InputError, JoinedupError, QueryError, SchemaError
from joinedup.estate import Catalogue, Estate
from joinedup.sharing import (
    AgreementNotLive,
    FilterNotPermitted,
    NotFound,
    NotPermitted,
    SharedDataset,
    SharingError,
    open_datasets,
    public_register,
    read_held_record,
    read_record,
    read_records,
    shared_datasets,
)
from joinedup.sharing import RecordPage as RecordPageResult
from joinedup.sharing.agreements import get_agreement

log = logging.getLogger("joinedup.api")

PREFIX = "/v1"
JSON = "application/json"
_RESERVED = frozenset({"cursor", "limit"})
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}, {"oauth2": []}]
_TOKEN_ERROR = TokenError.model_json_schema()
_OPTIONAL_BEARER: list[dict[str, list[str]]] = [{}, {"bearer": []}, {"oauth2": []}]
TOKEN_PATH = token_endpoint.PATH
#: Records are a partner's copy under an agreement, audited as it leaves: no cache on the way (or the
#: partner's own) is to keep one.
_PERSONAL = {"Cache-Control": "no-store"}
#: The route a partner calls most: answered by :class:`_HotRoute` without the router (see there).
RECORD_PATH = f"{PREFIX}/datasets/{{name}}/records/{{record_id}}"
#: Remote addresses given a bucket of their own at once; past this (a flood from many addresses) new ones share one.
_ADDRESSES = 65_536
#: The slug of each sharing refusal of an identified caller (the reason its access.denied entry gives).
_REFUSED = (
    (FilterNotPermitted, "filter-not-permitted"),
    (NotPermitted, "not-permitted"),
    (AgreementNotLive, "agreement-not-live"),
)


class Service:
    """What the routes share: the estate, settings, keys, quotas, the caller cache and the audit committer."""

    def __init__(self, estate: Estate, settings: ApiSettings) -> None:
        self.estate = estate
        self.settings = settings
        self.key = token_key(estate)
        self.quotas = Quotas(settings.quota_per_minute, settings.quota_burst)
        self.anonymous = Quotas(
            settings.anonymous_quota_per_minute, settings.anonymous_quota_burst, max_keys=_ADDRESSES
        )
        self.callers = Callers(estate, self.key, settings.agreement_cache_seconds)
        self.committer = GroupCommitter(estate, delay=settings.audit_commit_delay_us / 1_000_000)
        #: Whether single-record reads from a held view are answered on the event loop (SQLite catalogue only).
        self.inline_reads = estate.engine.dialect.name == "sqlite"

    def close(self) -> None:
        self.committer.close()
        self.estate.close()

    # -- who is calling -----------------------------------------------------

    def caller(self, request: Request) -> Caller:
        claims = self.callers.claims(request.headers.get("authorization"))
        self.take_quota(claims.client_id)
        caller = self.callers.caller(claims)
        # Whom a later refusal (a dataset or filter outside the agreement) names on the audit trail.
        request.state.caller = caller
        return caller

    def optional_caller(self, request: Request) -> Caller | None:
        return self.caller(request) if request.headers.get("authorization") else None

    def take_quota(self, client_id: str) -> None:
        _take(self.quotas, client_id, f"this client's quota ({self.settings.quota_per_minute} requests a minute)")

    def take_anonymous(self, address: str) -> None:
        """Count a request without a valid token against its remote address: a 429 problem when it is used up."""
        per_minute = self.settings.anonymous_quota_per_minute
        _take(
            self.anonymous, address, f"this address's quota of requests without a valid token ({per_minute} a minute)"
        )

    # -- audit --------------------------------------------------------------

    def audited(self, entry: dict[str, Any] | None) -> None:
        """Commit the read's audit entry, or refuse to answer (503) when it cannot be written."""
        if not entry:
            return
        try:
            self.committer.append(**entry)
        except Exception as exc:
            log.error("audit entry could not be written (%s); the response was withheld", type(exc).__name__)
            raise _audit_unavailable() from None

    async def audited_async(self, entry: dict[str, Any] | None) -> None:
        """:meth:`audited` for an ``async`` route: returns once the entry is committed, holding no thread meanwhile."""
        if not entry:
            return
        try:
            await self.committer.submit_async(**entry)
        except Exception as exc:
            log.error("audit entry could not be written (%s); the response was withheld", type(exc).__name__)
            raise _audit_unavailable() from None

    def refusal_entry(self, refusal: Refusal, status: int, attempted: str, dataset: str | None) -> dict[str, Any]:
        """The ``access.denied`` entry of a refusal, as a read's entry names its caller (catalogue queries)."""
        detail: dict[str, Any] = {
            "attempted": attempted,
            "reason": refusal.reason,
            "status": status,
            "client": refusal.client_id,
            "agreement": refusal.agreement_id,
            **refusal.extra,
        }
        try:
            agreement = get_agreement(self.estate, refusal.agreement_id)
            purpose = agreement.audit_purpose
            detail["purpose_category"] = agreement.purpose_category
        except NotFound:
            purpose = f"agreement {refusal.agreement_id}"
        if dataset is not None and Catalogue(self.estate).find(dataset) is None:
            # A name the caller made up could be anything, a person's name too: only that it is none is kept.
            dataset = None
            detail["dataset"] = "?"
        if refusal.filters:
            detail["filters"] = list(refusal.filters)
        return {
            "principal": refusal.principal,
            "action": DENIED,
            "purpose": purpose,
            "dataset": dataset,
            "detail": detail,
        }

    async def record_refusal(self, request: Request, problem: ApiProblem) -> None:
        """Commit the refusal's ``access.denied`` entry before it is sent; a refusal all the same when it cannot."""
        if problem.refusal is None:
            return
        route = request.scope.get("route")
        # The route's template, never the path: a path holds the record id asked for.
        attempted = f"{request.method} {getattr(route, 'path', '?')}"
        try:
            entry = await run_in_threadpool(
                self.refusal_entry, problem.refusal, problem.status, attempted, request.path_params.get("name")
            )
            await self.committer.submit_async(**entry)
        except Exception as exc:
            _refusal_unrecorded(exc)

    def record_refusal_sync(self, refusal: Refusal, status: int, attempted: str) -> None:
        """:meth:`record_refusal` from a worker thread."""
        try:
            self.committer.append(**self.refusal_entry(refusal, status, attempted, None))
        except Exception as exc:
            _refusal_unrecorded(exc)

    # -- catalogue ----------------------------------------------------------

    def shared(self, caller: Caller | None) -> dict[str, SharedDataset]:
        if caller is None:
            return {}
        return {d.name: d for d in shared_datasets(self.estate, caller.agreement)}


def create_app(estate_path: Path, *, settings: ApiSettings | None = None) -> FastAPI:
    """The API over the estate at ``estate_path`` (settings from its ``[api]`` section unless given)."""
    estate = Estate.open(estate_path)
    service = Service(estate, settings or ApiSettings.from_estate(estate))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = _Api(
        title="joinedup API",
        version=__version__,
        summary="Data shared under data-sharing agreements, as each agreement allows.",
        description=(
            "Partners pull exactly what their agreement allows: its datasets, its fields (some pseudonymised), "
            "its rows, never the records of people who objected to its purpose. Every response carrying "
            "personal data is on the estate's audit trail before it is sent. Errors are RFC 9457 problem "
            "documents (application/problem+json). See docs/api.md."
        ),
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = service
    _handlers(app, service)
    _routes(app, service)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(_Anonymous, service=service)
    app.add_middleware(_Contained)
    app.hot = _HotRoute(service, _route(app, RECORD_PATH), app.exception_handlers)
    return app


def _json(document: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(document), status_code=status, media_type=JSON, headers=headers)


def _routes(app: FastAPI, service: Service) -> None:
    estate = service.estate

    @app.post(
        TOKEN_PATH,
        tags=["authentication"],
        summary="Get a bearer token (OAuth 2.0 client credentials)",
        response_model=TokenResponse,
        responses={
            400: {"description": "RFC 6749 error", "content": {JSON: {"schema": _TOKEN_ERROR}}},
            401: {"description": "RFC 6749 invalid_client", "content": {JSON: {"schema": _TOKEN_ERROR}}},
            **documented(429),
        },
        openapi_extra={"requestBody": token_endpoint.REQUEST_BODY, "security": [{}, {"client_basic": []}]},
    )
    async def token(request: Request) -> Response:
        return await token_endpoint.issue_token(request, service)

    @app.get(
        f"{PREFIX}/datasets",
        tags=["catalogue"],
        summary="List the open datasets and those the caller's agreement covers",
        response_model=DatasetList,
        responses=documented(401, 403, 429),
        openapi_extra={"security": _OPTIONAL_BEARER},
    )
    def datasets(request: Request) -> Response:
        caller = service.optional_caller(request)
        shared = service.shared(caller)
        opened = set(open_datasets(estate))
        catalogue = {d.name: d for d in Catalogue(estate).datasets()}
        names = sorted(opened.union(shared))
        data = []
        for name in names:
            entry = shared.get(name)
            info = catalogue.get(name)
            data.append(
                {
                    "name": name,
                    "title": entry.title if entry else (info.title if info else None),
                    "description": entry.description if entry else (info.description if info else None),
                    "open": name in opened,
                    "shared": entry is not None,
                    "links": _dataset_links(name, entry is not None),
                }
            )
        return _json({"data": data})

    @app.get(
        f"{PREFIX}/datasets/{{name}}",
        tags=["catalogue"],
        summary="A dataset's catalogue record and the fields served",
        response_model=DatasetDetail,
        responses=documented(401, 403, 404, 429),
        openapi_extra={"security": _OPTIONAL_BEARER},
    )
    def dataset(name: str, request: Request) -> Response:
        caller = service.optional_caller(request)
        shared = service.shared(caller).get(name)
        opened = name in set(open_datasets(estate))
        info = Catalogue(estate).find(name)
        if shared is None and not opened:
            if caller is not None:
                # Whether or not it exists, as the records path answers: a partner learns nothing of other datasets.
                raise NotPermitted(f"dataset {name!r} is not shared under agreement {caller.agreement.id}")
            if info is None:
                raise ApiProblem(404, f"no dataset named {name!r}")
            raise unauthorised(f"dataset {name!r} is not open data: a bearer token is required", invalid=False)
        if shared is not None:
            fields = [{"name": n, "type": t, "pseudonymised": p} for n, t, p in shared.fields]
            version = shared.version
            title, description = shared.title, shared.description
        else:
            assert info is not None
            current = info.current
            version = current.number if current else None
            # Open data: the columns that are not personal (the ones a release may carry).
            fields = [
                {"name": str(f["name"]), "type": str(f.get("type", "string")), "pseudonymised": False}
                for f in (info.schema or {}).get("fields", [])
                if not f.get("personal")
            ]
            title, description = info.title, info.description
        return _json(
            {
                "name": name,
                "title": title,
                "description": description,
                "open": opened,
                "shared": shared is not None,
                "version": version,
                "fields": fields,
                "links": _dataset_links(name, shared is not None),
            }
        )

    @app.get(
        f"{PREFIX}/datasets/{{name}}/records",
        tags=["records"],
        summary="Records of a dataset, as the caller's agreement allows (cursor pagination, filters)",
        response_model=RecordPage,
        responses=documented(400, 401, 403, 404, 429, 503),
        openapi_extra={"security": _BEARER, "parameters": _records_parameters(service.settings)},
    )
    def records(name: str, request: Request) -> Response:
        caller = service.caller(request)
        limit, cursor, filters = _page_query(request, service.settings)
        query = cursors.query_digest(caller.agreement.id, caller.client_id, name, filters)
        inner = cursors.unwrap(service.key, query, cursor) if cursor is not None else None
        page = read_records(
            estate,
            client=caller.client,
            agreement=caller.agreement,
            dataset=name,
            filters=filters,
            cursor=inner,
            limit=limit,
        )
        service.audited(page.entry)
        next_cursor = cursors.wrap(service.key, query, page.next_cursor) if page.next_cursor else None
        base = f"{PREFIX}/datasets/{name}/records"
        return _json(
            {
                "data": page.records,
                "links": {
                    "self": _link(base, filters, limit, cursor),
                    "next": _link(base, filters, limit, next_cursor) if next_cursor else None,
                },
                "next_cursor": next_cursor,
                "meta": {"dataset": name, "version": _version(page.entry), "count": len(page.records), "limit": limit},
            },
            headers=_PERSONAL,
        )

    @app.get(
        RECORD_PATH,
        tags=["records"],
        summary="One record, as the caller's agreement allows",
        response_model=OneRecord,
        responses=documented(401, 403, 404, 429, 503),
        openapi_extra={"security": _BEARER},
    )
    async def one_record(name: str, record_id: str, request: Request) -> Response:
        # Normally answered by _HotRoute before the router is reached; this route documents it (OpenAPI) and
        # answers when the app is mounted where the hot path does not look.
        return await _record_response(service, request, name, record_id)

    @app.get(
        f"{PREFIX}/agreements",
        tags=["agreements"],
        summary="The public register of data-sharing agreements",
        response_model=AgreementRegister,
        responses=documented(429),
    )
    def agreements() -> Response:
        return _json({"data": public_register(estate)})

    @app.get(
        f"{PREFIX}/health",
        tags=["service"],
        summary="Whether the service is up",
        response_model=Health,
        responses=documented(429),
    )
    def health() -> Response:
        return _json({"status": "ok", "version": __version__, "time": datetime.now(UTC)})


def _take(quotas: Quotas, key: str, quota: str) -> None:
    wait = quotas.take(key)
    if wait:
        raise ApiProblem(429, f"{quota} is used up; try again in {wait} seconds", headers={"Retry-After": str(wait)})


def _refusal_unrecorded(exc: Exception) -> None:
    # The kind of error only: its text could quote the entry. The refusal is sent all the same: withholding it
    # would give the caller nothing more, and a 503 would tell them the trail is down.
    log.error("a refusal could not be recorded on the audit trail (%s); it was sent all the same", type(exc).__name__)


def _audit_unavailable() -> ApiProblem:
    return ApiProblem(
        503,
        "the access could not be recorded on the audit trail, so no data was sent; try again later",
        slug="audit-unavailable",
        title="Audit trail unavailable",
    )


async def _record_response(service: Service, request: Request, name: str, record_id: str) -> Response:
    """``GET /v1/datasets/{name}/records/{record_id}``: the one record, audited before it is sent."""
    # On SQLite the caller check and a read from a view already held are two indexed queries (tens of
    # microseconds): done here, as a worker thread's hand-offs cost more. Building a view, or any read on
    # PostgreSQL, runs in a worker thread. The wait for the audit commit holds no thread either way, so
    # concurrent reads share a group commit.
    if service.inline_reads:
        caller = service.caller(request)
        page = _held_record(service, caller, name, record_id)
        if page is None:
            page = await run_in_threadpool(_one_record, service, caller, name, record_id)
    else:
        caller = await run_in_threadpool(service.caller, request)
        page = await run_in_threadpool(_one_record, service, caller, name, record_id)
    await service.audited_async(page.entry)
    return _json(
        {"data": page.records[0], "meta": {"dataset": name, "version": _version(page.entry)}}, headers=_PERSONAL
    )


def _held_record(service: Service, caller: Caller, name: str, record_id: str) -> RecordPageResult | None:
    return read_held_record(
        service.estate, client=caller.client, agreement=caller.agreement, dataset=name, record_id=record_id
    )


def _one_record(service: Service, caller: Caller, name: str, record_id: str) -> RecordPageResult:
    page = read_record(
        service.estate, client=caller.client, agreement=caller.agreement, dataset=name, record_id=record_id
    )
    if not page.records:
        raise ApiProblem(404, f"no record {record_id!r} in dataset {name!r} under this agreement")
    return page


def _records_parameters(settings: ApiSettings) -> list[dict[str, Any]]:
    return [
        {
            "name": "cursor",
            "in": "query",
            "required": False,
            "description": "From `next_cursor` of the previous page of the same query (opaque).",
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": f"Records per page (default {settings.page_limit_default}).",
            "schema": {"type": "integer", "minimum": 1, "maximum": settings.page_limit_max},
        },
        {
            "name": "filters",
            "in": "query",
            "required": False,
            "description": "Exact-match filters on fields the agreement allows: `?postcode=SW1A%201AA`. "
            "A filter on any other field is refused (400).",
            "style": "form",
            "explode": True,
            "schema": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    ]


def _version(entry: dict[str, Any]) -> int | None:
    version = entry.get("dataset_version")
    return version if isinstance(version, int) else None


def _page_query(request: Request, settings: ApiSettings) -> tuple[int, str | None, dict[str, str]]:
    items = request.query_params.multi_items()
    names = [key for key, _ in items]
    repeated = sorted({key for key in names if names.count(key) > 1})
    if repeated:
        raise ApiProblem(400, f"query parameter {repeated[0]!r} is given more than once; give it once")
    given = dict(items)
    limit = settings.page_limit_default
    if "limit" in given:
        text = given["limit"]
        # At most six ASCII digits: str.isdigit() also takes "²" (which int() refuses) and other scripts' digits,
        # and int() refuses thousands of digits.
        if not (text.isascii() and text.isdigit() and len(text) <= 6) or not 1 <= int(text) <= settings.page_limit_max:
            raise ApiProblem(400, f"limit must be a whole number from 1 to {settings.page_limit_max}")
        limit = int(text)
    cursor = given.get("cursor") or None
    filters = {key: value for key, value in given.items() if key not in _RESERVED}
    return limit, cursor, filters


def _link(base: str, filters: dict[str, str], limit: int, cursor: str | None) -> str:
    query = dict(sorted(filters.items()))
    query["limit"] = str(limit)
    if cursor:
        query["cursor"] = cursor
    return f"{base}?{urlencode(query)}"


def _dataset_links(name: str, shared: bool) -> dict[str, str | None]:
    return {
        "self": f"{PREFIX}/datasets/{name}",
        "records": f"{PREFIX}/datasets/{name}/records" if shared else None,
    }


# -- errors ---------------------------------------------------------------------


def _handlers(app: FastAPI, service: Service) -> None:
    async def api_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiProblem)
        await service.record_refusal(request, exc)
        return problem_response(exc)

    async def sharing_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SharingError)
        status = int(exc.status)
        headers = {"WWW-Authenticate": 'Bearer realm="joinedup", error="invalid_token"'} if status == 401 else None
        problem = ApiProblem(status, str(exc), slug=exc.kind, headers=headers, refusal=_refusal(request, exc))
        await service.record_refusal(request, problem)
        return problem_response(problem)

    async def joinedup_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, JoinedupError)
        # The request's fault: say what was wrong. An unknown dataset is a NotFoundError.
        if exc.kind == "not-found":
            return problem_response(ApiProblem(404, str(exc)))
        if isinstance(exc, InputError | QueryError | SchemaError):
            return problem_response(ApiProblem(400, str(exc)))
        # The estate's fault (a key missing or readable by others, a busy database): nothing the partner can put
        # right, and the message names paths on the server. The operator sees the kind in the log.
        log.error("request failed: the estate refused it (%s, %s)", exc.kind, type(exc).__name__)
        if isinstance(exc, BusyError):
            return problem_response(ApiProblem(503, "the service is busy; try again shortly", slug="unavailable"))
        return problem_response(
            ApiProblem(500, "the service failed unexpectedly; the failure was logged, without the request")
        )

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = {
            404: "no such resource; the API's paths are listed in /v1/openapi.json",
            405: "this method is not allowed on this resource",
        }.get(exc.status_code, str(exc.detail))
        return problem_response(ApiProblem(exc.status_code, detail, headers=dict(exc.headers or {})))

    async def validation_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        # Names where, never what: the value given may be personal data.
        places = sorted({".".join(str(p) for p in error.get("loc", ())) for error in exc.errors()})
        return problem_response(ApiProblem(400, f"invalid request: check {', '.join(places) or 'the request'}"))

    app.add_exception_handler(ApiProblem, api_problem)
    app.add_exception_handler(SharingError, sharing_error)
    app.add_exception_handler(JoinedupError, joinedup_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)


def _refusal(request: Request, exc: SharingError) -> Refusal | None:
    """The refusal of the identified caller in ``exc``, when it is one (not a bad limit or cursor, say)."""
    caller: Caller | None = getattr(request.state, "caller", None)
    reason = next((slug for kind, slug in _REFUSED if isinstance(exc, kind)), None)
    if caller is None or reason is None:
        return None
    filters = exc.fields if isinstance(exc, FilterNotPermitted) else ()
    return Refusal(caller.client.principal, caller.client_id, caller.agreement.id, reason, filters)


class _Anonymous:
    """Requests carrying no valid token take one from their remote address's bucket (429 when it is empty).

    Nobody is identified by them (no token, or a malformed, forged or expired one), so they are not audited;
    this keeps a flood of them from one address down. ``POST /v1/token`` counts its own failures.
    """

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"] == "POST" and scope["path"] == TOKEN_PATH):
            await self.app(scope, receive, send)
            return
        # A valid token is checked in memory (remembered once verified): its requests count against its client.
        if not self.service.callers.verifies(Headers(scope=scope).get("authorization")):
            try:
                self.service.take_anonymous(remote_address(scope))
            except ApiProblem as problem:
                await problem_response(problem)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _route(app: FastAPI, path: str) -> APIRoute:
    return next(r for r in app.routes if isinstance(r, APIRoute) and r.path == path)


class _HotRoute:
    """``GET`` of one record with a valid token, answered before FastAPI's middleware and router.

    It is the call partners make most, and FastAPI's per-request machinery (its middleware stack, the route
    search, dependency solving, the exit stack) cost more than the read itself. The answer is the route's own
    (:func:`_record_response`), the route's path parameters and template are set in the scope as the router
    sets them (refusals name the template), errors go to the app's exception handlers, and anything unexpected
    becomes the 500 problem :class:`_Contained` gives; so the response is the one the route gives. A request
    without a valid token (counted against its address's quota), a ``HEAD`` and every other path go the usual way.
    """

    def __init__(self, service: Service, route: APIRoute, handlers: dict[Any, Callable[..., Any]]) -> None:
        self.service = service
        self.route = route
        self.handlers = handlers

    async def answered(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer the request when it is this route's, with a valid token; False (nothing sent) otherwise."""
        if scope["type"] != "http" or scope["method"] != "GET":
            return False
        match, child = self.route.matches(scope)
        if match is not Match.FULL or not self.service.callers.verifies(Headers(scope=scope).get("authorization")):
            return False
        scope.update(child)
        request = Request(scope, receive)
        params = child["path_params"]
        try:
            try:
                response = await _record_response(self.service, request, params["name"], params["record_id"])
            except Exception as exc:
                handler = next((self.handlers[k] for k in type(exc).__mro__ if k in self.handlers), None)
                if handler is None:
                    raise
                response = await handler(request, exc)
        except Exception as exc:
            response = _unexpected(exc)
        try:
            await response(scope, receive, send)
        except Exception as exc:
            # Part of the answer may have gone: nothing more can be sent. The log gets the kind of error only.
            log.error("request failed unexpectedly while it was answered (%s)", type(exc).__name__)
        return True


class _Api(FastAPI):
    """The API's app: :class:`_HotRoute` looks at each request first."""

    hot: _HotRoute | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.hot is not None and await self.hot.answered(scope, receive, send):
            return
        await super().__call__(scope, receive, send)


def _unexpected(exc: Exception) -> Response:
    """The 500 problem for a failure nobody expected; the log gets the kind of error only (its text may quote data)."""
    log.error("request failed unexpectedly (%s)", type(exc).__name__)
    return problem_response(
        ApiProblem(500, "the service failed unexpectedly; the failure was logged, without the request")
    )


class _Contained:
    """Anything unexpected becomes a 500 problem; the log gets the kind of error only (its text may quote data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            failed = _unexpected(exc)
            if not started:
                await failed(scope, receive, send)


# -- the OpenAPI document ----------------------------------------------------------


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version="3.1.0",
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        components = document.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for generated in ("HTTPValidationError", "ValidationError"):
            schemas.pop(generated, None)
        schemas["Problem"] = problem_schema()
        components["securitySchemes"] = {
            "oauth2": {
                "type": "oauth2",
                "description": "OAuth 2.0 client credentials: POST /v1/token gives a short-lived bearer token.",
                "flows": {"clientCredentials": {"tokenUrl": f"{PREFIX}/token", "scopes": {}}},
            },
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "client_basic": {
                "type": "http",
                "scheme": "basic",
                "description": "The client id and secret, for /v1/token only (or send them in the form body).",
            },
        }
        for path in document.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                responses.pop("422", None)
                # Every operation can meet an unexpected failure: it is a problem document too.
                responses.setdefault("500", _problem_ref("The service failed unexpectedly."))
                if operation.get("parameters") == []:
                    operation.pop("parameters")
        app.openapi_schema = document
        return document

    return build


def _problem_ref(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
