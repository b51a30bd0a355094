"""Retention: each dataset's rule (``period`` from a date column or from ingest, then ``delete`` or ``archive``).

``run`` removes every row past its date as a new version (mode ``retention``),
then deletes the old files that still hold such rows, so old versions do not keep
them; rows under a legal hold (the whole dataset, or one person) are left alone.
The delete predicate names a cut-off date or ingest numbers and held rows' keys,
never a person's value. Archiving writes the rows, as Parquet, into a separate
archive estate with an entry in that estate's own audit log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import sqlalchemy as sa

from joinedup.access import authorize
from joinedup.audit import record, record_now
from joinedup.errors import InputError
from joinedup.estate import Catalogue, Estate, Lineage
from joinedup.estate.db import now
from joinedup.estate.models import Dataset, SchemaVersion
from joinedup.lifecycle.deadlines import add_months
from joinedup.lifecycle.find import data_files, exact_keys, schema_fields
from joinedup.lifecycle.holds import held_people
from joinedup.lifecycle.models import PurgedVersion, RetentionRule
from joinedup.storage import delta
from joinedup.storage.duck import connect, quote_identifier, quote_literal

ACTION = "data.retention"
ACTIONS = ("delete", "archive")
_PERIOD = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?")


@dataclass(frozen=True)
class Rule:
    dataset: str
    period: str
    from_: str
    action: str

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "period": self.period, "from": self.from_, "action": self.action}


def cutoff(period: str, today: date) -> date:
    """Rows dated before this are past their retention period."""
    found = _PERIOD.fullmatch(period)
    if not found or period == "P":
        raise InputError(f"retention period {period!r}: expected ISO 8601 years, months or days, e.g. P6Y, P18M")
    years, months, days = (int(g or 0) for g in found.groups())
    return add_months(today, -(12 * years + months)) - timedelta(days=days)


def set_rule(estate: Estate, principal: str, dataset: str, period: str, from_: str, action: str) -> Rule:
    cutoff(period, date.today())
    if action not in ACTIONS:
        raise InputError(f"retention action {action!r}: expected delete or archive")
    Catalogue(estate).get(dataset)
    if from_ != "ingest":
        types = {f["name"]: f.get("type") for f in schema_fields(estate, dataset)}
        if types.get(from_) not in ("date", "datetime"):
            raise InputError(f"--from {from_!r}: expected a date column of {dataset!r}, or `ingest`")
    me = authorize(estate, principal, ACTION, dataset=dataset)
    with estate.session() as session:
        row = session.get(RetentionRule, dataset) or RetentionRule(dataset=dataset)
        row.period, row.from_, row.action, row.set_at, row.set_by = period, from_, action, now(), me.name
        session.add(row)
        record(session, estate, principal=me.name, action="retention.set", dataset=dataset,
               detail={"period": period, "from": from_, "action": action})  # fmt: skip
    return Rule(dataset, period, from_, action)


def list_rules(estate: Estate, principal: str) -> list[Rule]:
    authorize(estate, principal, ACTION)
    with estate.session() as session:
        rows = session.scalars(sa.select(RetentionRule).order_by(RetentionRule.dataset)).all()
        return [Rule(r.dataset, r.period, r.from_, r.action) for r in rows]


def run(
    estate: Estate, principal: str, *, dry_run: bool = False, today: date | None = None, archive: Path | None = None
) -> list[dict[str, Any]]:
    """Apply every rule; per dataset, the rows past their date removed (or that would be, with ``dry_run``)."""
    me = authorize(estate, principal, ACTION)
    rules = list_rules(estate, me.name)
    if not dry_run and archive is None and any(r.action == "archive" for r in rules):
        raise InputError("a rule archives: give the archive estate with --archive PATH")
    if archive is not None:
        _outside(estate, archive)
    target = Estate.open(archive) if archive is not None and not dry_run else None
    return [_apply(estate, me.name, rule, today or date.today(), dry_run, target) for rule in rules]


def _outside(estate: Estate, archive: Path) -> None:
    """Archived rows must leave the estate: under it they would still be held, and erasure's scan would find them."""
    if estate.contains(archive):
        raise InputError(
            f"--archive {str(archive)!r} is inside the estate {str(estate.root)!r}: archive to a separate estate"
        )


def _apply(
    estate: Estate, principal: str, rule: Rule, today: date, dry_run: bool, archive: Estate | None
) -> dict[str, Any]:
    report: dict[str, Any] = {**rule.to_dict(), "cutoff": cutoff(rule.period, today).isoformat()}
    whole, people = held_people(estate, rule.dataset)
    if whole:
        return {**report, "rows": 0, "status": "held: a legal hold covers the whole dataset"}
    with estate.lock(rule.dataset):
        info = Catalogue(estate).get(rule.dataset)
        current = info.version(None)
        expired = _expired(info.versions, rule, cutoff(rule.period, today))
        held: set[tuple[int, int]] = set()
        for nhs in people:
            held |= exact_keys(estate, rule.dataset, "table", {"nhs_number": nhs})
        predicate = expired if not held else f"({expired}) AND NOT ({delta.key_predicate(held)})"
        path = estate.table_path(rule.dataset)
        data = delta.snapshot(path, current.table_version)
        with connect(macros=[]) as con:
            con.register("t", data)
            [(count,)] = con.execute(f"SELECT count(*) FROM t WHERE {predicate}").fetchall()
            rows = con.sql(f"SELECT * FROM t WHERE {predicate}").to_arrow_table() if archive and count else None
        report.update(rows=int(count), held_rows=len(held))
        if dry_run or not count:
            return {**report, "status": "dry run" if dry_run else "nothing past its date"}
        if archive is not None and rows is not None and rule.action == "archive":
            _archive(archive, principal, rule.dataset, rows)
        fields = (info.schema or {}).get("fields", [])
        personal = [f["name"] for f in fields if f.get("personal") or f.get("category")]
        done = delta.delete_where(path, predicate, personal_columns=personal, all_columns=data.schema.names)
        version = _record(estate, principal, rule, current, done)
        files = _purge_old_files(estate, rule.dataset, predicate, done.version)
    return {**report, "status": f"{rule.action}d", "version": version, "old_files_deleted": files}


def _expired(versions: Any, rule: Rule, before: date) -> str:
    if rule.from_ == "ingest":
        old = [str(v.number) for v in versions if v.created_at.date() < before]
        return f"_ingest IN ({', '.join(old)})" if old else "FALSE"
    return f"{quote_identifier(rule.from_)} < CAST({quote_literal(before.isoformat())} AS DATE)"


def _record(estate: Estate, principal: str, rule: Rule, current: Any, done: delta.Committed) -> int:
    lineage = Lineage(
        mode="retention", source_name=f"retention {rule.period} from {rule.from_}", source_sha256="", source_bytes=0,
        source_format="retention", source_encoding=None, pipeline="joinedup lifecycle retention",
        table_version=done.version, quarantine_version=current.quarantine_version, rows_read=0, rows_inserted=0,
        rows_updated=0, rows_deleted=done.deleted, rows_quarantined=0, rows_total=current.rows_total - done.deleted,
        rows_above_header=0, rule_counts={},
    )  # fmt: skip
    with estate.session() as session:
        schema = session.scalars(
            sa.select(SchemaVersion).join(Dataset, SchemaVersion.dataset_id == Dataset.id)
            .where(Dataset.name == rule.dataset).order_by(SchemaVersion.number.desc()).limit(1)
        ).one()  # fmt: skip
        version = Catalogue.record_version(
            session, dataset=rule.dataset, schema=schema.definition, schema_digest=schema.digest,
            principal=principal, lineage=lineage,
        )  # fmt: skip
        record(session, estate, principal=principal, action=ACTION, dataset=rule.dataset,
               dataset_version=version.number, row_count=done.deleted, detail=rule.to_dict())  # fmt: skip
        return version.number


def _purge_old_files(estate: Estate, dataset: str, predicate: str, version: int) -> int:
    """Delete files no longer in the current version that still hold expired rows; mark versions purged."""
    from deltalake import DeltaTable

    path = estate.table_path(dataset)
    live = {Path(u.removeprefix("file://")) for u in DeltaTable(str(path), version=version).file_uris()}
    files = [f for f in data_files(estate, dataset, "table") if f not in live]
    if not files:
        return 0
    listed = ", ".join(quote_literal(str(f)) for f in files)
    with connect(macros=[]) as con:
        holding = con.execute(
            f"SELECT DISTINCT filename FROM read_parquet([{listed}], union_by_name = true, filename = true) "
            f"WHERE {predicate}"
        ).fetchall()  # fmt: skip
    for (name,) in holding:
        Path(name).unlink(missing_ok=True)
    info = Catalogue(estate).get(dataset)
    with estate.session() as session:
        known = set(session.scalars(sa.select(PurgedVersion.number).where(PurgedVersion.dataset == dataset)))
        for v in info.versions:
            uris = DeltaTable(str(path), version=v.table_version).file_uris()
            if v.number not in known and not all(Path(u.removeprefix("file://")).exists() for u in uris):
                session.add(PurgedVersion(dataset=dataset, number=v.number, at=now(),
                                          reason="its files held rows past their retention period"))  # fmt: skip
    return len(holding)


def _archive(archive: Estate, principal: str, dataset: str, rows: Any) -> None:
    folder = archive.root / "archive" / dataset
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"retention-{now().strftime('%Y%m%dT%H%M%S%f')}.parquet"
    pq.write_table(rows, path)
    record_now(archive, principal=principal, action="retention.archive", dataset=dataset, row_count=rows.num_rows,
               detail={"file": str(path.relative_to(archive.root))})  # fmt: skip


def rule_of(estate: Estate, dataset: str) -> dict[str, Any] | None:
    """The dataset's retention rule, as ``show`` lists it (None when none is set)."""
    with estate.session() as session:
        row = session.get(RetentionRule, dataset)
        return None if row is None else Rule(row.dataset, row.period, row.from_, row.action).to_dict()


def purged_versions(estate: Estate, dataset: str) -> dict[int, str]:
    """``{version: reason}`` for the versions of ``dataset`` that no longer read back (erasure or retention)."""
    with estate.session() as session:
        rows = session.scalars(sa.select(PurgedVersion).where(PurgedVersion.dataset == dataset)).all()
        return {r.number: r.reason for r in rows}
