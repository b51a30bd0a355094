"""Reading personal data on a principal's behalf: authorise, fetch, audit, then hand over."""

from __future__ import annotations

from joinedup.access.authorize import authorize
from joinedup.audit import release
from joinedup.estate import Estate
from joinedup.storage.query import QueryResult, referenced_datasets, run_query


def query_as(
    estate: Estate, principal: str, sql: str, *, purpose: str | None = None, limit: int | None = None
) -> QueryResult:
    """Run read-only ``sql`` for ``principal``, who needs a read role on every dataset it touches.

    The rows are returned only after the ``data.query`` entry (redacted SQL,
    datasets and versions, columns, row count) has been committed.
    """
    datasets = referenced_datasets(estate, sql)
    for name in datasets or [None]:
        authorize(estate, principal, "data.query", dataset=name, purpose=purpose)
    result = run_query(estate, sql, datasets=datasets, limit=limit)
    [(only, version)] = list(datasets.items()) if len(datasets) == 1 else [(None, None)]
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
        detail={"versions": datasets, "truncated": result.truncated},
    )
