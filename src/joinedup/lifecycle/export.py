"""The subject access pack (UK GDPR Art. 15): every confirmed record, what each dataset is for, who saw the data.

A zip of JSON and CSV with a readable HTML summary. "Who accessed" is the audit
package's own ``who_accessed`` answer, the same as ``joinedup audit who-accessed``.
The export is audited (``subject.export``, the person as keyed hashes) before the
file appears; it is written to a temporary name and renamed only after that.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pyarrow.compute as pc

from joinedup.access import authorize
from joinedup.audit import record_now, who_accessed
from joinedup.errors import InputError
from joinedup.estate import Catalogue, Estate
from joinedup.lifecycle.find import matches
from joinedup.lifecycle.models import RetentionRule
from joinedup.lifecycle.recipients import recipients_to_notify
from joinedup.lifecycle.requests import request_details, subjects_of
from joinedup.lifecycle.retention import purged_versions
from joinedup.storage import delta
from joinedup.storage.csv_export import safe_cell

ACTION = "subject.export"


def export_pack(estate: Estate, principal: str, request_id: int, out: Path) -> dict[str, Any]:
    """Write the request's subject access pack to ``out`` (a zip); a summary of what it holds."""
    me = authorize(estate, principal, ACTION)
    details = request_details(estate, request_id)
    _refuse_while_pending(estate, request_id)
    records, keys = _records(estate, request_id)
    datasets = _about(estate, sorted({r["dataset"] for r in records}))
    accesses = _accesses(estate, details, keys)
    pack = {"request": f"R{request_id}", "records": records, "datasets": datasets, "accessed_by": accesses}
    staged = out.with_name(f".{out.name}.partial")
    _write_zip(staged, pack)
    try:
        record_now(
            estate, principal=me.name, action=ACTION, subjects=subjects_of(details), row_count=len(records),
            detail={"request": f"R{request_id}", "datasets": sorted(datasets)},
        )  # fmt: skip
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    os.replace(staged, out)
    return {"request": f"R{request_id}", "file": str(out), "records": len(records), "accesses": len(accesses),
            "datasets": sorted(datasets)}  # fmt: skip


def _refuse_while_pending(estate: Estate, request_id: int) -> None:
    """A pack sent before every proposed row is decided would leave out (or wrongly include) someone's records."""
    pending = matches(estate, request_id, "candidate")
    if pending:
        raise InputError(
            f"request R{request_id} has {len(pending)} candidate row(s) awaiting a decision: "
            "`joinedup subject confirm` or `subject reject` each one `subject find` lists, then export"
        )


#: Basis of an access, strongest first, for merging the answers of several identifiers.
_BASIS_RANK = {"returned": 0, "named": 1, "aggregate": 2, "undetermined": 3}


def _accesses(estate: Estate, details: dict[str, str], keys: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    """Who accessed the person's data: the precise answer of ``audit who-accessed``, for each identifier and record."""
    kinds: list[tuple[str | None, str | None]] = [(k, details[k]) for k in ("nhs_number", "ni_number") if k in details]
    if not kinds and not keys:
        return []
    best: dict[int, Any] = {}
    for kind, value in kinds or [(None, None)]:
        for access in who_accessed(estate, kind, value, records=keys).accesses:
            seen = best.get(access.entry.seq)
            if seen is None or _BASIS_RANK.get(access.basis, 9) < _BASIS_RANK.get(seen.basis, 9):
                best[access.entry.seq] = access
    return [
        {"when": a.entry.at, "who": a.entry.principal, "what": a.entry.action, "why": a.entry.purpose,
         "dataset": a.entry.dataset, "basis": a.basis}
        for _, a in sorted(best.items())
    ]  # fmt: skip


def _records(estate: Estate, request_id: int) -> tuple[list[dict[str, Any]], list[tuple[str, Any]]]:
    """The confirmed rows as every version still readable holds them, and their (dataset, primary key) pairs.

    A row an older version still reads back is data the estate holds about the
    person (Art. 15), even when the current version replaced or corrected it;
    each distinct form of a row appears once, with the versions that hold it.
    """
    wanted: dict[tuple[str, str], set[tuple[int, int]]] = {}
    for m in matches(estate, request_id, "confirmed"):
        wanted.setdefault((m.dataset, m.part), set()).add((m.ingest, m.source_row))
    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    keys: set[tuple[str, str]] = set()
    for (dataset, part), rows in sorted(wanted.items()):
        info = Catalogue(estate).get(dataset)
        primary = ((info.schema or {}).get("primaryKey") or ["_source_row"])[0]
        path = estate.table_path(dataset) if part == "table" else estate.quarantine_path(dataset)
        gone = purged_versions(estate, dataset)
        ingests = sorted({i for i, _ in rows})
        for version in info.versions:
            delta_version = version.table_version if part == "table" else version.quarantine_version
            if delta_version is None or version.number in gone:
                continue
            table = delta.snapshot(path, delta_version).to_table(filter=pc.field("_ingest").isin(ingests))
            for row in table.to_pylist():
                if (row["_ingest"], row["_source_row"]) not in rows:
                    continue
                plain = {k: _plain(v) for k, v in row.items()}
                held = found.setdefault(
                    (dataset, part, json.dumps(plain, sort_keys=True, default=str)),
                    {"dataset": dataset, "part": part, **plain, "versions": []},
                )
                held["versions"].append(version.number)
                if part == "table" and row.get(primary) is not None:
                    keys.add((dataset, str(row[primary])))
    return list(found.values()), sorted(keys)


def _plain(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.loads(json.dumps(value, default=str))
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def _about(estate: Estate, names: list[str]) -> dict[str, dict[str, Any]]:
    """What each dataset is, in plain language: purpose, lawful basis, retention, recipients."""
    about: dict[str, dict[str, Any]] = {}
    with estate.session() as session:
        rules = {r.dataset: r for r in session.query(RetentionRule).filter(RetentionRule.dataset.in_(names))}
    for name in names:
        info = Catalogue(estate).get(name)
        schema = info.schema or {}
        rule = rules.get(name)
        about[name] = {
            "title": info.title or name,
            "purpose": schema.get("purpose") or info.description or "not recorded",
            "lawful_basis": schema.get("lawfulBasis") or schema.get("lawful_basis") or "not recorded",
            "retention": f"kept {rule.period} from {rule.from_}, then {rule.action}d" if rule else "no rule set",
            "recipients": recipients_to_notify(estate, [name]),
        }
    return about


def _names(recipients: list[Any]) -> str:
    return ", ".join(map(str, recipients)) or "nobody recorded"


def _csv(rows: list[dict[str, Any]]) -> str:
    columns = sorted({k for r in rows for k in r})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row.get(c)) for c in columns])
    return buffer.getvalue()


def _write_zip(path: Path, pack: dict[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("pack.json", json.dumps(pack, indent=2, default=str, ensure_ascii=False))
        archive.writestr("records.csv", _csv(pack["records"]))
        archive.writestr("accessed_by.csv", _csv(pack["accessed_by"]))
        archive.writestr("summary.html", _html(pack))


def _html(pack: dict[str, Any]) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Your data: request {e(pack['request'])}</title></head><body>",
        f"<h1>The data we hold about you (request {e(pack['request'])})</h1>",
        f"<p>We found {len(pack['records'])} record(s) in {len(pack['datasets'])} dataset(s).</p>",
    ]
    for name, about in pack["datasets"].items():
        count = sum(r["dataset"] == name for r in pack["records"])
        parts += [
            f"<h2>{e(about['title'])}</h2><ul>",
            f"<li>Records about you: {count}</li>",
            f"<li>Why we hold it: {e(str(about['purpose']))}</li>",
            f"<li>Lawful basis: {e(str(about['lawful_basis']))}</li>",
            f"<li>How long we keep it: {e(str(about['retention']))}</li>",
            f"<li>Who we share it with: {e(_names(about['recipients']['recipients']))}</li>",
            "</ul>",
        ]
    parts.append("<h2>Who has accessed your data, and why</h2>")
    if pack["accessed_by"]:
        parts.append("<table><tr><th>When</th><th>Who</th><th>What</th><th>Why</th></tr>")
        parts += [
            f"<tr><td>{e(str(a['when']))}</td><td>{e(str(a['who']))}</td><td>{e(str(a['what']))}</td>"
            f"<td>{e(str(a['why'] or ''))}</td></tr>"
            for a in pack["accessed_by"]
        ]
        parts.append("</table>")
    else:
        parts.append("<p>No recorded access returned your data.</p>")
    parts.append("<p>The full records are in records.csv and pack.json.</p></body></html>")
    return "\n".join(parts)
