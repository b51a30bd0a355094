"""Reading personal data on a principal's behalf: authorise, fetch, audit, then hand over."""

from __future__ import annotations

from joinedup.access.authorize import authorize
from joinedup.audit import record_now, release
from joinedup.errors import QueryError
from joinedup.estate import Catalogue, Estate
from joinedup.storage.delta import SYSTEM_COLUMNS
from joinedup.storage.query import QueryResult, QueryRunError, referenced_datasets, run_query


def query_as(
    estate: Estate, principal: str, sql: str, *, purpose: str | None = None, limit: int | None = None
) -> QueryResult:
    """Run read-only ``sql`` for ``principal``, who needs a read role on every dataset it touches.

    The rows are returned only after the ``data.query`` entry (redacted SQL,
    datasets and versions, columns, row count) has been committed. A query that
    is refused (not one SELECT) or fails is recorded too, as ``data.query.failed``.
    """
    try:
        datasets = referenced_datasets(estate, sql)
    except QueryError as exc:
        _failed(estate, principal, sql, purpose, {}, "refused", exc)
        raise
    for name in datasets or [None]:
        authorize(estate, principal, "data.query", dataset=name, purpose=purpose)
    names = open_names(estate, datasets)
    only, version = _single(datasets)
    try:
        result = run_query(estate, sql, datasets=datasets, limit=limit)
    except QueryError as exc:
        _failed(estate, principal, sql, purpose, datasets, "running" if isinstance(exc, QueryRunError) else "binding", exc)
        raise
    return release(
        estate,
        result,
        principal=principal,
        action="data.query",
        purpose=purpose,
        dataset=only,
        dataset_version=version,
        columns=result.columns,
        row_count=len(result.rows),
        sql=sql,
        names=names,
        detail={"versions": datasets, "truncated": result.truncated},
    )


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


def _failed(
    estate: Estate, principal: str, sql: str, purpose: str | None, datasets: dict[str, int], stage: str, exc: QueryError
) -> None:
    # The error's own text is left out: it may quote the data (see run_query).
    only, version = _single(datasets)
    record_now(
        estate,
        principal=principal,
        action="data.query.failed",
        purpose=purpose,
        dataset=only,
        dataset_version=version,
        sql=sql,
        # A refused query was never matched to datasets: every dataset's names may show.
        names=open_names(estate, datasets or {d.name: 0 for d in Catalogue(estate).datasets()}),
        detail={"versions": datasets, "stage": stage, "error": type(exc).__name__},
    )
