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
from joinedup.audit import dataset_membership, record_now, who_accessed
from joinedup.estate import Catalogue, Estate
from joinedup.lifecycle.find import matches
from joinedup.lifecycle.models import RetentionRule
from joinedup.lifecycle.recipients import recipients_to_notify
from joinedup.lifecycle.requests import request_details, subjects_of
from joinedup.storage import delta
from joinedup.storage.csv_export import safe_cell

ACTION = "subject.export"


def export_pack(estate: Estate, principal: str, request_id: int, out: Path) -> dict[str, Any]:
    """Write the request's subject access pack to ``out`` (a zip); a summary of what it holds."""
    me = authorize(estate, principal, ACTION)
    details = request_details(estate, request_id)
    records = _records(estate, request_id)
    datasets = _about(estate, sorted({r["dataset"] for r in records}))
    accesses: list[dict[str, Any]] = []
    for kind in ("nhs_number", "ni_number"):
        if kind in details:
            answer = who_accessed(estate, kind, details[kind], dataset_membership(estate))
            accesses += [
                {"when": a.entry.at, "who": a.entry.principal, "what": a.entry.action, "why": a.entry.purpose,
                 "dataset": a.entry.dataset, "basis": a.basis}
                for a in answer.accesses
            ]  # fmt: skip
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


def _records(estate: Estate, request_id: int) -> list[dict[str, Any]]:
    """The confirmed rows as the current version (and the quarantine) hold them."""
    found: list[dict[str, Any]] = []
    wanted: dict[tuple[str, str], set[tuple[int, int]]] = {}
    for m in matches(estate, request_id, "confirmed"):
        wanted.setdefault((m.dataset, m.part), set()).add((m.ingest, m.source_row))
    for (dataset, part), keys in sorted(wanted.items()):
        current = Catalogue(estate).get(dataset).version(None)
        path = estate.table_path(dataset) if part == "table" else estate.quarantine_path(dataset)
        version = current.table_version if part == "table" else current.quarantine_version
        if version is None:
            continue
        data = delta.snapshot(path, version)
        ingests = sorted({i for i, _ in keys})
        table = data.to_table(filter=pc.field("_ingest").isin(ingests))
        for row in table.to_pylist():
            if (row["_ingest"], row["_source_row"]) in keys:
                found.append({"dataset": dataset, "part": part, **{k: _plain(v) for k, v in row.items()}})
    return found


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
