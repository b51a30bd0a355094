"""Rectification (UK GDPR Art. 16): corrected values become a new version, validated by the schema like any ingest.

The request's confirmed rows in the current version are written, with the
corrections applied, to a staged CSV and upserted by primary key through
``ingest``: a value the schema refuses is quarantined with its reason and the
row stays as it was. The audit entry names the columns changed, never the values.
"""

from __future__ import annotations

import uuid
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from joinedup.access import authorize
from joinedup.audit import record_now
from joinedup.errors import InputError, NotFoundError
from joinedup.estate import Catalogue, Estate
from joinedup.ingest import ingest
from joinedup.lifecycle.find import matches
from joinedup.lifecycle.models import SubjectMatch
from joinedup.lifecycle.requests import get_request, request_details, subjects_of
from joinedup.storage import delta
from joinedup.storage.duck import connect

ACTION = "subject.rectify"


def parse_changes(pairs: list[str]) -> dict[str, str]:
    changes: dict[str, str] = {}
    for pair in pairs:
        column, sep, value = pair.partition("=")
        if not sep or not column.strip():
            raise InputError(
                f"--set: expected COLUMN=VALUE, e.g. --set postcode='LS1 4AP' (got a {len(pair)}-character value)"
            )
        changes[column.strip()] = value
    if not changes:
        raise InputError("give the corrections with --set COLUMN=VALUE")
    return changes


def rectify(estate: Estate, principal: str, request_id: int, dataset: str, changes: dict[str, str]) -> dict[str, Any]:
    """Apply ``changes`` to the request's confirmed rows of ``dataset`` as a new version; what happened."""
    me = authorize(estate, principal, ACTION)
    request = get_request(estate, request_id)
    if request.kind != "rectification" or request.status != "open":
        raise InputError(f"request R{request_id} is not an open rectification request")
    info = Catalogue(estate).get(dataset)
    schema = info.schema or {}
    fields = [f["name"] for f in schema.get("fields", [])]
    unknown = sorted(set(changes) - set(fields))
    if unknown:
        raise InputError(f"--set: {', '.join(unknown)} not a column of {dataset!r} (columns: {', '.join(fields)})")
    if not schema.get("primaryKey"):
        raise InputError(f"dataset {dataset!r} has no primary key: rectification updates rows by it")
    keys = {
        (m.ingest, m.source_row)
        for m in matches(estate, request_id, "confirmed")
        if m.dataset == dataset and m.part == "table"
    }
    current = info.version(None)
    table = None
    if keys:
        with connect(macros=[]) as con:
            con.register("t", delta.snapshot(estate.table_path(dataset), current.table_version))
            table = con.sql(f"SELECT * FROM t WHERE {delta.key_predicate(keys)}").to_arrow_table()
    if table is None or table.num_rows == 0:
        raise NotFoundError(f"request R{request_id}: no confirmed row of the person in {dataset!r}'s current version")
    columns = {}
    for name in fields:
        if name in changes:
            columns[name] = pa.array([changes[name]] * table.num_rows, pa.string())
        else:
            columns[name] = pc.cast(table[name], pa.string())
    staged = estate.tmp_dir / f"rectify-{uuid.uuid4().hex}.csv"
    try:
        pcsv.write_csv(pa.table(columns), staged)
        staged.chmod(0o600)
        result = ingest(estate, staged, dataset=dataset, principal=me.name, mode="upsert", fmt="csv")
    finally:
        staged.unlink(missing_ok=True)
    if result.rows_updated:
        _follow(estate, request_id, dataset, result.version, me.name)
    record_now(
        estate, principal=me.name, action=ACTION, dataset=dataset, dataset_version=result.version,
        columns=sorted(changes), row_count=result.rows_updated,
        subjects=subjects_of(request_details(estate, request_id)),
        detail={"request": f"R{request_id}", "rows_refused": result.rows_quarantined},
    )  # fmt: skip
    if result.rows_quarantined:
        raise InputError(
            f"the correction to {', '.join(sorted(changes))} fails {dataset!r}'s schema: the row is unchanged; "
            f"the reason is in the quarantine of version {result.version}"
        )
    return {
        "request": f"R{request_id}",
        "dataset": dataset,
        "version": result.version,
        "rows_updated": result.rows_updated,
        "columns": sorted(changes),
    }


def _follow(estate: Estate, request_id: int, dataset: str, version: int, principal: str) -> None:
    """The corrected rows carry new row keys (an upsert replaces them): they are the request's person too."""
    current = Catalogue(estate).get(dataset).version(version)
    with connect(macros=[]) as con:
        con.register("t", delta.snapshot(estate.table_path(dataset), current.table_version))
        rows = con.execute(f"SELECT _source_row FROM t WHERE _ingest = {int(version)}").fetchall()
    with estate.session() as session:
        session.add_all(
            SubjectMatch(
                request_id=request_id, dataset=dataset, part="table", ingest=version, source_row=int(r),
                basis="rectified", score=1.0, status="confirmed", decided_by=principal,
            )
            for (r,) in rows
        )  # fmt: skip
