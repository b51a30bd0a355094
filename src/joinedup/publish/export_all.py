"""``joinedup export-all``: everything the estate holds, in open formats, for leaving joinedup (supplier exit).

Each dataset's current version as Parquet and CSV with its Table Schema, its
version history and its quarantine; every catalogue table (versions, releases,
agreements, quality results, the audit log ...) as JSON; the catalogue as DCAT
JSON-LD; and ``manifest.json`` with a SHA-256 for every file. Secrets never
leave: the estate's key files are not read, and catalogue columns named like a
secret (``secret``, ``password``, ``token``, ``private`` ...) are left out.

It is a bulk read of personal data for admins only: the audit entry is
committed before the folder appears.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import sqlalchemy as sa

from joinedup.access import authorize
from joinedup.access.reads import record_failed
from joinedup.audit import record_now
from joinedup.errors import JoinedupError
from joinedup.estate import Catalogue, Estate
from joinedup.estate.db import now
from joinedup.publish import formats
from joinedup.publish.errors import PublishError
from joinedup.publish.metadata import records
from joinedup.schema import Schema, to_table_schema
from joinedup.storage import delta
from joinedup.storage.csv_export import write_csv

ACTION = "estate.export_all"
MANIFEST = "manifest.json"
#: Catalogue columns that never leave: key material and credentials, however a later capability names them.
SECRET_COLUMN = re.compile(r"secret|password|passwd|token|private|api_?key|client_key|signing_key", re.IGNORECASE)


def export_all(estate: Estate, principal: str, out: Path) -> dict[str, Any]:
    """Write the whole estate under ``out`` (a new or empty folder); returns a summary with the manifest's hash."""
    authorize(estate, principal, ACTION)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise PublishError(f"{out}: exists and is not an empty folder; name a new folder for the export")
    if not out.parent.is_dir():
        raise PublishError(f"{out}: folder {out.parent} does not exist; create it first")
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    try:
        summary = _write(estate, principal, staging)
        record_now(
            estate, principal=principal, action=ACTION, row_count=summary["rows"],
            detail={"datasets": summary["datasets"], "tables": summary["tables"], "files": summary["files"],
                    "manifest_sha256": summary["manifest_sha256"]},
        )  # fmt: skip
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except (JoinedupError, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        record_failed(estate, principal, ACTION, None, exc, "writing")
        raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {**summary, "out": str(out)}


def _write(estate: Estate, principal: str, folder: Path) -> dict[str, Any]:
    versions: dict[str, int] = {}
    rows = 0
    for info in Catalogue(estate).datasets():
        if info.current is None:
            continue
        rows += _dataset(estate, info, folder / "datasets" / info.name)
        versions[info.name] = info.current.number
    tables = _catalogue_tables(estate, folder / "catalogue")
    nodes = [formats.dcat_dataset(m) for m in records(estate)]
    _json(folder / "catalogue.jsonld", formats.dcat_document_catalogue(nodes, estate.config.name))
    files = _manifest(folder)
    manifest = {
        "estate": estate.config.name,
        "exported_at": now().isoformat(),
        "exported_by": principal,
        "formats": {"data": "Parquet and CSV (RFC 4180, UTF-8)", "catalogue": "JSON", "metadata": "DCAT JSON-LD"},
        "files": files,
    }
    _json(folder / MANIFEST, manifest)
    return {
        "datasets": versions,
        "tables": tables,
        "files": len(files) + 1,
        "rows": rows,
        "manifest_sha256": _sha256(folder / MANIFEST),
    }


def _dataset(estate: Estate, info: Any, folder: Path) -> int:
    folder.mkdir(parents=True)
    current = info.current
    table = delta.snapshot(estate.table_path(info.name), current.table_version).to_table()
    pq.write_table(table, folder / "data.parquet", compression="zstd")
    columns = table.column_names
    write_csv(folder / "data.csv", columns, zip(*(c.to_pylist() for c in table.columns), strict=True))
    if info.schema:
        _json(folder / "schema.json", to_table_schema(Schema.from_dict(info.schema)))
    _json(folder / "versions.json", [v.to_dict() for v in info.versions])
    if current.quarantine_version is not None and estate.quarantine_path(info.name).exists():
        quarantine = delta.snapshot(estate.quarantine_path(info.name), current.quarantine_version).to_table()
        pq.write_table(quarantine, folder / "quarantine.parquet", compression="zstd")
    return int(table.num_rows)


def _catalogue_tables(estate: Estate, folder: Path) -> list[str]:
    folder.mkdir(parents=True)
    names = sorted(sa.inspect(estate.engine).get_table_names())
    with estate.engine.connect() as connection:
        for name in names:
            table = sa.Table(name, sa.MetaData(), autoload_with=connection)
            kept = [c for c in table.columns if not SECRET_COLUMN.search(c.name)]
            result = connection.execute(sa.select(*kept).order_by(*table.primary_key.columns))
            _json(folder / f"{name}.json", [_jsonable(dict(row._mapping)) for row in result])
    return names


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def _manifest(folder: Path) -> list[dict[str, Any]]:
    return [
        {"path": p.relative_to(folder).as_posix(), "sha256": _sha256(p), "bytes": p.stat().st_size}
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
