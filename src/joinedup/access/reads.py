"""Reading personal data on a principal's behalf: the one way it leaves the estate.

:func:`read_as` is that way: authorise, fetch, commit the audit entry, then hand
the data over (and, for an export, deliver it). Queries and quarantine reads use
it; so should every later way out (API, extracts, subject access packs).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

from joinedup.access.authorize import authorize
from joinedup.access.identity import Principal
from joinedup.audit import record_now, release
from joinedup.errors import JoinedupError, QueryError
from joinedup.estate import Catalogue, Estate
from joinedup.storage.delta import SYSTEM_COLUMNS
from joinedup.storage.query import (
    QueryResult,
    QueryRunError,
    QueryTimeout,
    query_deadline,
    referenced_datasets,
    run_query,
)

T = TypeVar("T")
R = TypeVar("R")

#: Appended to a read's action for its entry when it fails after being authorised.
FAILED = ".failed"


@dataclass
class Fetched(Generic[T]):
    """What a read fetched, with what its audit entry says about it."""

    data: T
    dataset: str | None = None
    dataset_version: int | None = None
    columns: Sequence[str] = ()
    row_count: int | None = None
    sql: str | None = None
    #: Dataset and column names that may stay readable in the logged SQL and columns.
    names: Collection[str] | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def entry(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "dataset_version": self.dataset_version,
            "columns": list(self.columns),
            "row_count": self.row_count,
            "sql": self.sql,
            "names": self.names,
            "detail": dict(self.detail),
        }


Failure = Callable[[JoinedupError | OSError], Mapping[str, Any]]


@overload
def read_as(
    estate: Estate,
    principal: str,
    action: str,
    *,
    datasets: Iterable[str | None],
    fetch: Callable[[Principal], Fetched[T]],
    purpose: str | None = None,
    failure: Failure | None = None,
) -> T: ...


@overload
def read_as(
    estate: Estate,
    principal: str,
    action: str,
    *,
    datasets: Iterable[str | None],
    fetch: Callable[[Principal], Fetched[T]],
    purpose: str | None = None,
    failure: Failure | None = None,
    deliver: Callable[[T], R],
) -> R: ...


def read_as(
    estate: Estate,
    principal: str,
    action: str,
    *,
    datasets: Iterable[str | None],
    fetch: Callable[[Principal], Fetched[T]],
    purpose: str | None = None,
    failure: Failure | None = None,
    deliver: Callable[[T], R] | None = None,
) -> T | R:
    """Authorise ``action`` on every one of ``datasets``, fetch, commit the audit entry, then hand over.

    ``fetch`` gets the authorised principal (what it returns may depend on the
    roles held). Nothing leaves before the entry is committed: if it cannot be
    written this raises. With ``deliver`` (writing a file, sending a response)
    the data goes there after the entry and its result is returned instead; a
    destination that can fail should be checked before calling. A fetch or
    delivery that fails is recorded as ``<action>.failed`` with the fields
    ``failure`` gives (never the error's text, which may quote the data) and
    the error is raised.
    """
    who: Principal | None = None
    for name in datasets:
        who = authorize(estate, principal, action, dataset=name, purpose=purpose)
    if who is None:
        who = authorize(estate, principal, action, purpose=purpose)
    try:
        fetched = fetch(who)
    except JoinedupError as exc:
        record_failed(estate, principal, action, purpose, exc, "fetching", failure)
        raise
    data = release(estate, fetched.data, principal=principal, action=action, purpose=purpose, **fetched.entry())
    if deliver is None:
        return data
    try:
        return deliver(data)
    except (JoinedupError, OSError) as exc:
        record_failed(estate, principal, action, purpose, exc, "delivering", failure)
        raise


def record_failed(
    estate: Estate,
    principal: str,
    action: str,
    purpose: str | None,
    exc: JoinedupError | OSError,
    stage: str,
    failure: Failure | None = None,
) -> None:
    """Commit ``<action>.failed`` for a read that stopped at ``stage``; the error's kind is kept, not its text."""
    fields: dict[str, Any] = {"detail": {}}
    fields.update(failure(exc) if failure is not None else {})
    fields["detail"] = {"stage": stage, **fields["detail"], "error": type(exc).__name__}
    record_now(estate, principal=principal, action=action + FAILED, purpose=purpose, **fields)


def query_datasets(estate: Estate, sql: str) -> list[str]:
    """The datasets ``sql`` reads, or none when it cannot be read (what a refusal of a query records)."""
    try:
        return sorted(referenced_datasets(estate, sql, deadline=query_deadline(estate)))
    except JoinedupError:
        return []


def query_as(
    estate: Estate, principal: str, sql: str, *, purpose: str | None = None, limit: int | None = None
) -> QueryResult:
    """Run read-only ``sql`` for ``principal``, who needs a read role on every dataset it touches.

    The rows are returned only after the ``data.query`` entry (redacted SQL,
    datasets and versions, columns, row count) has been committed. A query that
    is refused (not one SELECT), fails or runs out of time is recorded too, as
    ``data.query.failed``.
    """
    deadline = query_deadline(estate)
    try:
        datasets = referenced_datasets(estate, sql, deadline=deadline)
    except QueryError as exc:
        record_failed(
            estate, principal, "data.query", purpose, exc, "refused", _query_failure(estate, sql, {}, "refused")
        )
        raise

    def fetch(_: Principal) -> Fetched[QueryResult]:
        result = run_query(estate, sql, datasets=datasets, limit=limit, deadline=deadline)
        only, version = _single(datasets)
        return Fetched(
            result,
            dataset=only,
            dataset_version=version,
            columns=result.columns,
            row_count=len(result.rows),
            sql=sql,
            names=open_names(estate, datasets),
            detail={"versions": datasets, "truncated": result.truncated},
        )

    return read_as(
        estate, principal, "data.query", datasets=datasets, fetch=fetch, purpose=purpose,
        failure=_query_failure(estate, sql, datasets, "binding"),
    )  # fmt: skip


def _query_failure(estate: Estate, sql: str, datasets: dict[str, int], stage: str) -> Failure:
    """The failed entry's fields for a query; ``stage`` unless it ran out of time or failed over the data."""

    def fields(exc: JoinedupError | OSError) -> dict[str, Any]:
        only, version = _single(datasets)
        return {
            "dataset": only,
            "dataset_version": version,
            "sql": _loggable(sql),
            # A refused query was never matched to datasets: every dataset's names may show.
            "names": open_names(estate, datasets or {d.name: 0 for d in Catalogue(estate).datasets()}),
            "detail": {"versions": datasets, "stage": _stage_of(exc, stage)},
        }

    return fields


def _stage_of(exc: JoinedupError | OSError, stage: str) -> str:
    if isinstance(exc, QueryTimeout):
        return "time limit"
    if isinstance(exc, QueryRunError):
        return "running"
    return stage


def _loggable(sql: str) -> str | None:
    """The query as the log can hold it.

    Blank is nothing; a lone surrogate (bytes that were not UTF-8) becomes U+FFFD.
    """
    if not sql.strip():
        return None
    return sql.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _single(datasets: dict[str, int]) -> tuple[str | None, int | None]:
    """The dataset and version of a read over exactly one dataset; (None, None) for several or none."""
    [(only, version)] = list(datasets.items()) if len(datasets) == 1 else [(None, None)]
    return only, version


def open_names(estate: Estate, datasets: dict[str, int]) -> set[str]:
    """Names a query over ``datasets`` may use openly in the log: the datasets and their columns."""
    catalogue = Catalogue(estate)
    names = set(datasets) | set(SYSTEM_COLUMNS)
    for name in datasets:
        schema = catalogue.get(name).schema or {}
        names.update(str(f["name"]) for f in schema.get("fields", []))
    return names
