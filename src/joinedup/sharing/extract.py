"""``joinedup extract``: an agreement's data as files, for partners who take files rather than the API.

The same permitted, pseudonymised, objection-filtered records the API serves,
one file per dataset (CSV with CSVW metadata, or Parquet), and a
``manifest.json`` with the SHA-256 of every file. The audit entries (one per
dataset, ``sharing.export``) are committed before the first file is written.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from joinedup.access import authorize
from joinedup.audit import record_now
from joinedup.errors import InputError
from joinedup.estate import Estate
from joinedup.estate.db import now
from joinedup.sharing.agreements import live_agreement
from joinedup.sharing.models import ExtractRow
from joinedup.sharing.records import EXPORT_ACTION, MAX_SUBJECTS, cursor, select_all
from joinedup.storage.csv_export import write_csv

FORMATS = ("csv", "parquet")
MANIFEST = "manifest.json"
_CSVW_TYPES = {"integer": "integer", "number": "number", "boolean": "boolean", "date": "date",
               "datetime": "dateTime", "year": "gYear"}  # fmt: skip


@dataclass(frozen=True)
class Extracted:
    agreement_id: str
    out_dir: Path
    format: str
    files: dict[str, str]
    rows: dict[str, int]
    excluded: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {
            "agreement": self.agreement_id,
            "out_dir": str(self.out_dir),
            "format": self.format,
            "files": self.files,
            "rows": self.rows,
            "excluded": self.excluded,
        }


def _check_out(estate: Estate, out_dir: Path) -> Path:
    target = out_dir.resolve()
    if estate.contains(out_dir):
        raise InputError(f"--out {out_dir}: inside the estate; extracts for partners go outside it")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError(f"--out {out_dir}: exists and is not an empty folder; give a new folder")
    if not target.parent.is_dir():
        raise InputError(f"--out {out_dir}: folder {target.parent} does not exist; create it first")
    if not os.access(target.parent, os.W_OK):
        raise InputError(f"--out {out_dir}: folder {target.parent} is not writable")
    return target


def extract(estate: Estate, actor: str, agreement_id: str, out_dir: Path, fmt: str = "csv") -> Extracted:
    """Write the agreement's data to ``out_dir`` (a new folder outside the estate)."""
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: expected {' or '.join(FORMATS)}")
    actor = authorize(estate, actor, "sharing.export").name
    agreement = live_agreement(estate, agreement_id)
    target = _check_out(estate, out_dir)
    selected = [select_all(estate, agreement, terms.name) for terms in agreement.datasets]
    # Every entry is committed before any file exists.
    for plan, table, excluded in selected:
        subjects: list[Any] = []
        if table.num_rows <= MAX_SUBJECTS:
            with cursor(estate) as con:
                subjects = plan.subjects(con, table)
        entry = plan.entry(actor, EXPORT_ACTION, table, subjects, excluded, format=fmt)
        if table.num_rows > MAX_SUBJECTS:
            entry["detail"]["people"] = "dataset version (too many to list)"
        record_now(estate, **entry)
    target.mkdir(mode=0o700, exist_ok=True)
    files: dict[str, str] = {}
    rows: dict[str, int] = {}
    excluded_counts: dict[str, int] = {}
    for plan, table, excluded in selected:
        records = plan.records_table(table)
        rows[plan.dataset] = records.num_rows
        excluded_counts[plan.dataset] = excluded
        if fmt == "parquet":
            name = f"{plan.dataset}.parquet"
            # Like the CSV: readable by its owner only, whatever the umask or the folder given.
            descriptor = os.open(target / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                pq.write_table(records, handle)
            files[name] = _sha256(target / name)
        else:
            name = f"{plan.dataset}.csv"
            write_csv(target / name, records.column_names, _rows(records))
            files[name] = _sha256(target / name)
            meta = f"{plan.dataset}.csv-metadata.json"
            (target / meta).write_text(json.dumps(_csvw(plan, name), indent=2) + "\n", encoding="utf-8")
            files[meta] = _sha256(target / meta)
    manifest = {
        "agreement": agreement.id,
        "purpose": agreement.purpose,
        "created_at": now().isoformat().replace("+00:00", "Z"),
        "datasets": {p.dataset: p.version.number for p, _, _ in selected},
        "rows": rows,
        "files": {name: {"sha256": digest} for name, digest in sorted(files.items())},
    }
    manifest_text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    (target / MANIFEST).write_text(manifest_text, encoding="utf-8")
    with estate.session() as session:
        session.add(
            ExtractRow(
                agreement_id=agreement.id, datasets=manifest["datasets"], format=fmt, out_dir=str(target),
                manifest_sha256=hashlib.sha256(manifest_text.encode()).hexdigest(),
                rows=sum(rows.values()), excluded=sum(excluded_counts.values()), created_at=now(), created_by=actor,
            )
        )  # fmt: skip
    return Extracted(agreement.id, target, fmt, files, rows, excluded_counts)


def _rows(table: pa.Table) -> Any:
    for batch in table.to_batches(max_chunksize=10_000):
        yield from zip(*(column.to_pylist() for column in batch.columns), strict=True)


def _csvw(plan: Any, name: str) -> dict[str, Any]:
    columns = [
        {"name": c.out, "titles": c.out, "datatype": "string" if c.pseudonymised else _CSVW_TYPES.get(c.type, "string")}
        for c in plan.columns
    ]
    columns.append({"name": "id", "titles": "id", "datatype": "string"})
    return {
        "@context": "http://www.w3.org/ns/csvw",
        "url": name,
        "dc:title": plan.info.title or plan.dataset,
        "tableSchema": {"columns": columns, "primaryKey": "id"},
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
