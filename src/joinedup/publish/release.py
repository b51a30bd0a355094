"""``joinedup publish``: an open data release of non-personal columns or safe aggregates.

The release is computed in DuckDB, scanned for personal data, written to a
private staging folder, optionally pushed to CKAN, then moved into place and
recorded (catalogue row and audit entry in one transaction). Anything that
fails before the record leaves no files and no release.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from joinedup.access import authorize
from joinedup.access.reads import record_failed
from joinedup.audit import record
from joinedup.errors import JoinedupError
from joinedup.estate import Catalogue, Estate
from joinedup.estate.db import now
from joinedup.publish import formats
from joinedup.publish.aggregate import (
    DEFAULT_THRESHOLD,
    AggregateSpec,
    build_cells,
    parse_aggregate,
    released_cells,
)
from joinedup.publish.errors import PublishError
from joinedup.publish.metadata import describe
from joinedup.publish.models import Release
from joinedup.publish.scan import scan_release
from joinedup.schema import Schema, to_table_schema
from joinedup.storage import delta
from joinedup.storage.csv_export import write_csv
from joinedup.storage.duck import quote_identifier as q
from joinedup.storage.duck import sealed

ACTION = "data.publish"
#: Rows a dry run shows.
PREVIEW_ROWS = 20
#: Pushes a finished release somewhere (CKAN) and returns the package name there.
Pusher = Callable[[dict[str, Any], Path], str]


@dataclass
class ReleaseResult:
    dataset: str
    dataset_version: int
    kind: str
    columns: list[str]
    rows: int
    threshold: int | None = None
    aggregate: str | None = None
    suppressed_primary: int = 0
    suppressed_secondary: int = 0
    dry_run: bool = False
    release: int | None = None
    out: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    ckan_package: str | None = None
    preview: list[list[Any]] = field(default_factory=list)

    @property
    def suppressed(self) -> int:
        return self.suppressed_primary + self.suppressed_secondary

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "suppressed": self.suppressed}


def publish(
    estate: Estate,
    principal: str,
    dataset: str,
    *,
    out: Path,
    columns: Sequence[str] | None = None,
    aggregate: str | None = None,
    threshold: int = DEFAULT_THRESHOLD,
    dry_run: bool = False,
    push: Pusher | None = None,
) -> ReleaseResult:
    """Make (or with ``dry_run`` only compute) an open data release of ``dataset``'s current version."""
    authorize(estate, principal, ACTION, dataset=dataset)
    info = Catalogue(estate).get(dataset)
    version = info.version(None)
    schema = Schema.from_dict(info.schema or {}, source=f"schema of {dataset}")
    plan = _plan(schema, columns, aggregate, threshold)
    # A dry run answers "what would be released": a dataset that may not be released at all is refused here too.
    _open_record(estate, dataset)
    if not dry_run:
        _check_out(out)
    source = delta.snapshot(estate.table_path(dataset), version.table_version)
    personal = [f.name for f in schema.personal_fields]
    with sealed(
        estate.tmp_dir, views={"source": source}, memory_limit=estate.config.memory_limit, threads=estate.config.threads
    ) as con:
        result = ReleaseResult(dataset, version.number, plan.kind, plan.names, 0, dry_run=dry_run)
        if plan.spec is not None:
            cells = build_cells(con, "source", plan.spec, threshold)
            con.execute("CREATE OR REPLACE TEMP TABLE release AS " + released_cells(con, plan.spec).sql_query())
            result.threshold, result.aggregate = threshold, plan.spec.text()
            result.suppressed_primary, result.suppressed_secondary = cells.primary, cells.secondary
            scanned = list(plan.spec.by)  # the measure is computed, not copied from a row
        else:
            selected = ", ".join(_as_text(schema.field(c)) for c in plan.names)
            con.execute(f"CREATE OR REPLACE TEMP TABLE release AS SELECT {selected} FROM source")
            scanned = plan.names
        scan_release(con, "release", scanned, "source", personal)
        rows = [list(r) for r in con.execute("SELECT * FROM release").fetchall()]
    result.rows = len(rows)
    if dry_run:
        result.preview = rows[:PREVIEW_ROWS]
        return result
    return _write(estate, principal, result, plan, schema, rows, out, push)


@dataclass(frozen=True)
class _Plan:
    kind: str
    names: list[str]
    spec: AggregateSpec | None


#: The most grouping columns an aggregate release may have (see ``_plan``).
MAX_GROUPINGS = 2


def _plan(schema: Schema, columns: Sequence[str] | None, aggregate: str | None, threshold: int) -> _Plan:
    if (columns is None) == (aggregate is None):
        raise PublishError("publish: give either --columns or --aggregate")
    if threshold < 1:
        raise PublishError("publish: --threshold must be at least 1")
    if columns is not None:
        names = [c.strip() for c in columns if c.strip()]
        if not names or len(set(names)) != len(names):
            raise PublishError("--columns: list each column once, separated by commas")
        _check_columns(schema, names, "publish")
        return _Plan("columns", names, None)
    spec = parse_aggregate(aggregate or "")
    if len(spec.by) > MAX_GROUPINGS:
        # Suppression is proven exact for one or two grouping columns only; with three, totals in
        # different directions can pin down a suppressed cell (docs/publishing.md). A published
        # disclosure cannot be taken back, so the release is refused rather than warned about.
        raise PublishError(
            f"--aggregate: group by at most {MAX_GROUPINGS} columns (got {len(spec.by)}); small-cell "
            "suppression is exact only for one or two"
        )
    _check_columns(schema, [*spec.by, *([spec.column] if spec.column else [])], "aggregate over")
    if spec.column and schema.field(spec.column).type not in ("integer", "number"):
        raise PublishError(f"--aggregate: {spec.measure} needs a numeric column; {spec.column!r} is not")
    return _Plan("aggregate", [*spec.by, spec.value_name], spec)


def _check_columns(schema: Schema, names: Sequence[str], doing: str) -> None:
    for name in names:
        if name not in schema.names:
            raise PublishError(f"unknown column {name!r} (columns: {', '.join(schema.names)})")
        found = schema.field(name)
        if found.personal:
            raise PublishError(
                f"cannot {doing} column {name!r}: it is personal data"
                f"{f' ({found.category})' if found.category else ''}; choose non-personal columns"
            )


def _as_text(fld: Any) -> str:
    """A column as the CSV shows it: ISO 8601 times, ``true``/``false``, numbers as written."""
    column = q(fld.name)
    if fld.type == "datetime":
        return f"strftime(CAST({column} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%SZ') AS {column}"
    if fld.type == "boolean":
        return f"CASE WHEN {column} THEN 'true' WHEN NOT {column} THEN 'false' END AS {column}"
    return f"CAST({column} AS VARCHAR) AS {column}"


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PublishError(f"{out}: exists and is not an empty folder; name a new folder for the release")
    if not out.parent.is_dir():
        raise PublishError(f"{out}: folder {out.parent} does not exist; create it first")


def _table_schema(result: ReleaseResult, plan: _Plan, schema: Schema) -> dict[str, Any]:
    if plan.spec is None:
        kept = [schema.field(c) for c in plan.names]
        keep_key = set(schema.primary_key) <= set(plan.names)
        subset = dataclasses.replace(
            schema, fields=tuple(kept), primary_key=schema.primary_key if keep_key else (),
            deletion_flag=schema.deletion_flag if schema.deletion_flag in plan.names else None, header_row=1,
        )  # fmt: skip
        return to_table_schema(subset)
    spec = plan.spec
    measured = "integer" if spec.measure == "count" else "number"
    if spec.measure == "sum" and schema.field(spec.column or "").type == "integer":
        measured = "integer"
    fields = [{"name": d, "type": "string"} for d in spec.by]
    fields.append({"name": spec.value_name, "type": measured, "description": f"{spec.text()}; [c]: suppressed"})
    return {"fields": fields, "missingValues": [""]}


def _write(
    estate: Estate,
    principal: str,
    result: ReleaseResult,
    plan: _Plan,
    schema: Schema,
    rows: list[list[Any]],
    out: Path,
    push: Pusher | None,
) -> ReleaseResult:
    meta = _open_record(estate, result.dataset)
    number = _next_number(estate, result.dataset)
    meta = {
        **meta,
        "columns": result.columns,
        "release_version": f"{result.dataset_version}.{number}",
        "released": now().isoformat(),
    }
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    try:
        files = _write_files(staging, meta, result, plan, schema, rows)
        package = push(meta, staging) if push is not None else None
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except (JoinedupError, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        record_failed(
            estate, principal, ACTION, None, exc, "pushing" if push else "writing",
            lambda _: {"dataset": result.dataset, "dataset_version": result.dataset_version},
        )  # fmt: skip
        raise
    result.release, result.out, result.files, result.ckan_package = number, str(out), files, package
    try:
        _record(estate, principal, result)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    return result


def _open_record(estate: Estate, dataset: str) -> dict[str, Any]:
    """The dataset's catalogue record, if it may be published at all (OFFICIAL and OPEN)."""
    meta = describe(estate, dataset)
    if meta["security_classification"] != "OFFICIAL" or meta["access_rights"] != "OPEN":
        raise PublishError(
            f"dataset {dataset!r} is {meta['security_classification']} with access rights "
            f"{meta['access_rights']}: only OFFICIAL, OPEN datasets are published (catalogue describe)"
        )
    return meta


def _next_number(estate: Estate, dataset: str) -> int:
    with estate.session() as session:
        last = session.scalar(sa.select(sa.func.max(Release.number)).where(Release.dataset == dataset))
    return (last or 0) + 1


def _write_files(
    folder: Path, meta: dict[str, Any], result: ReleaseResult, plan: _Plan, schema: Schema, rows: list[list[Any]]
) -> dict[str, str]:
    csv_path = folder / formats.CSV_NAME
    write_csv(csv_path, result.columns, rows)
    csv_sha = _sha256(csv_path)
    table_schema = _table_schema(result, plan, schema)
    suppressed = [result.columns[-1]] if plan.spec is not None else []
    _dump(folder / formats.CSVW_NAME, formats.csvw(meta, table_schema["fields"], suppressed))
    _dump(
        folder / formats.DATAPACKAGE_NAME,
        formats.datapackage(
            meta, table_schema, name=result.dataset.replace("_", "-"), csv_sha256=csv_sha,
            csv_bytes=csv_path.stat().st_size, suppressed_columns=suppressed,
        ),
    )  # fmt: skip
    dist = formats.distribution(meta["title"], formats.CSV_NAME, "text/csv", meta.get("licence"))
    _dump(folder / formats.DCAT_NAME, formats.dcat_document([formats.dcat_dataset(meta, [dist])]))
    for path in folder.iterdir():
        path.chmod(0o644)  # an open data release is for everyone; the staging folder was private
    folder.chmod(0o755)
    return {path.name: _sha256(path) for path in sorted(folder.iterdir())}


def _dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _record(estate: Estate, principal: str, result: ReleaseResult) -> None:
    with estate.session() as session:
        session.add(
            Release(
                dataset=result.dataset, number=result.release, dataset_version=result.dataset_version,
                kind=result.kind, spec={"columns": result.columns, "aggregate": result.aggregate,
                                         "threshold": result.threshold},
                rows=result.rows, suppressed=result.suppressed, files=result.files, out_dir=result.out or "",
                ckan_url=None, ckan_package=result.ckan_package, created_at=now(), created_by=principal,
            )
        )  # fmt: skip
        session.flush()
        record(
            session, estate, principal=principal, action=ACTION, dataset=result.dataset,
            dataset_version=result.dataset_version, columns=result.columns, row_count=result.rows,
            detail={
                "release": result.release, "kind": result.kind, "aggregate": result.aggregate,
                "threshold": result.threshold, "suppressed_primary": result.suppressed_primary,
                "suppressed_secondary": result.suppressed_secondary, "files": result.files,
                "ckan": result.ckan_package is not None,
            },
        )  # fmt: skip


def releases(estate: Estate, dataset: str | None = None) -> list[dict[str, Any]]:
    """Recorded releases, oldest first."""
    query = sa.select(Release).order_by(Release.id)
    if dataset is not None:
        query = query.where(Release.dataset == dataset)
    with estate.session() as session:
        return [
            {
                "dataset": r.dataset, "release": r.number, "dataset_version": r.dataset_version, "kind": r.kind,
                "rows": r.rows, "suppressed": r.suppressed, "out": r.out_dir, "ckan_package": r.ckan_package,
                "created_at": r.created_at, "created_by": r.created_by,
            }
            for r in session.scalars(query)
        ]  # fmt: skip
