"""Erasure that is really erasure (invariant 2): remove, purge, verify every byte, certify.

An erasure is proposed by one dpo or admin and approved by another (four eyes);
approval runs :data:`STEPS` in order. Each step is recorded in the catalogue when
it finishes, and each can run again safely, so an erasure killed part-way
(``kill -9``) is finished by running ``subject erase --approve`` again:

``rewrite_tables``
    per dataset, under its lock: delete the person's rows from the current table
    and quarantine by surrogate row key (the predicate holds numbers only, since
    it is written into the Delta log); only the files holding them are
    rewritten. The result is a new dataset version (mode ``erase``), recorded
    with its audit entry in one transaction. A Delta commit left by a kill before
    that is rolled back first and the delete made again.
``linkage``, ``sealed_queries``
    the linkage outputs and the audit log's sealed query texts naming the person,
    through those capabilities' own functions (recorded as not applicable when absent).
``purge_files``
    every Parquet file still holding one of the person's rows (old versions,
    files the delete replaced) is deleted, scratch space emptied; versions that
    can no longer be read back are recorded as purged.
``rewrite_logs``
    a Delta log or checkpoint holding a value is replaced by a fresh checkpoint.
``catalogue``
    SQLite is rebuilt (``VACUUM``) and its write-ahead log truncated, so no free
    page or journal keeps a deleted row.
``verify``
    every file under the estate read, raw and decoded (:mod:`joinedup.lifecycle.scan`).
``certificate``
    what was removed where and when, the verification, the recipients to tell;
    the requests' sealed identifiers are destroyed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from deltalake import DeltaTable

from joinedup import linkage
from joinedup.access import authorize
from joinedup.audit import Subject, forget_sealed, principal_key, record, record_now, sealed_texts
from joinedup.errors import AccessDenied, BusyError, InputError, JoinedupError, NotFoundError
from joinedup.estate import Catalogue, Estate, Lineage
from joinedup.estate.db import now
from joinedup.estate.models import Dataset, DatasetVersion, SchemaVersion
from joinedup.lifecycle.find import data_files
from joinedup.lifecycle.holds import holds_over
from joinedup.lifecycle.models import ErasureRun, PurgedVersion, SubjectMatch, SubjectRequest
from joinedup.lifecycle.recipients import recipients_to_notify
from joinedup.lifecycle.requests import get_row, subjects_of
from joinedup.lifecycle.scan import patterns_for, scan
from joinedup.lifecycle.sealing import destroy, unseal
from joinedup.storage import delta
from joinedup.storage.duck import connect, quote_literal

ACTION = "data.erase"
PIPELINE = "joinedup lifecycle erase"


class ErasureIncomplete(JoinedupError):
    """The erasure ran but the verification still found the person's values: no certificate is issued."""

    kind = "erasure-incomplete"


@dataclass
class _Job:
    """What the steps share: the run, the people (details and hashes) and their rows per dataset and part."""

    estate: Estate
    run_id: int
    principal: str
    request_ids: list[int]
    details: dict[int, dict[str, str]]
    #: ``{(dataset, part): {(ingest, source_row), ...}}``.
    keys: dict[tuple[str, str], set[tuple[int, int]]]
    done: dict[str, Any] = field(default_factory=dict)

    @property
    def datasets(self) -> list[str]:
        return sorted({d for d, _ in self.keys})

    def subjects(self) -> list[Subject]:
        return [s for d in self.details.values() for s in subjects_of(d)]

    def patterns(self) -> dict[str, str]:
        return patterns_for((k, v) for d in self.details.values() for k, v in d.items())


Step = Callable[[_Job], dict[str, Any]]
#: Called after each step finishes (tests use it to kill the process mid-erasure).
after_step: Callable[[str], None] | None = None


# -- proposing and approving ------------------------------------------------------


def propose(estate: Estate, principal: str, request_ids: list[int]) -> dict[str, Any]:
    """Record an erasure of the requests' people, to be approved by a second dpo or admin."""
    me = authorize(estate, principal, ACTION)
    with estate.session() as session:
        existing = _run_for(session, request_ids)
        if existing is not None and existing.status != "proposed":
            return _summary(existing)
        keys = _check(estate, session, request_ids)
        proposal = _proposal(keys)
        if existing is not None and existing.steps.get(PROPOSAL) == proposal:
            return _summary(existing)
        if existing is None:
            _refuse_overlap(session, request_ids, keys)
            run = ErasureRun(request_ids=sorted(request_ids), status="proposed", steps={})
            session.add(run)
        else:  # the rows changed since it was proposed: this proposal replaces that one
            run = existing
        run.proposed_by, run.proposed_at, run.steps = me.name, now(), {PROPOSAL: proposal}
        session.flush()
        details = [unseal(estate, f"R{i}", get_row(session, i).sealed) for i in request_ids]
        record(
            session, estate, principal=me.name, action="subject.erase_proposed",
            subjects=[s for d in details for s in subjects_of(d)], row_count=sum(len(k) for k in keys.values()),
            detail={"erasure": f"E{run.id}", "requests": [f"R{i}" for i in sorted(request_ids)]},
        )  # fmt: skip
        return _summary(run)


def approve(estate: Estate, principal: str, request_ids: list[int]) -> dict[str, Any]:
    """Approve (as a second principal) and run the proposed erasure, or finish one a kill interrupted."""
    me = authorize(estate, principal, ACTION)
    refused: int | None = None
    with estate.session() as session:
        run = _run_for(session, request_ids)
        if run is None:
            raise InputError(
                f"no erasure proposed for {_labels(request_ids)}: a dpo or admin runs "
                f"`joinedup subject erase {_labels(request_ids)}` first, then another approves"
            )
        if run.status == "done":
            return _summary(run)
        if run.status == "proposed" and principal_key(run.proposed_by) == principal_key(me.name):
            refused = run.id
        elif run.status == "proposed":
            proposal = _proposal(_check(estate, session, run.request_ids))
            if run.steps.get(PROPOSAL) != proposal:
                raise InputError(
                    f"the rows to erase for {_labels(run.request_ids)} changed since erasure E{run.id} was proposed "
                    f"({run.steps.get(PROPOSAL, {}).get('rows')} row(s) then, {proposal['rows']} now): "
                    f"propose it again (`joinedup subject erase {_labels(run.request_ids)}`), then approve"
                )
            run.status, run.approved_by, run.approved_at = "running", me.name, now()
            record(
                session, estate, principal=me.name, action="subject.erase_approved",
                detail={"erasure": f"E{run.id}", "proposed_by": run.proposed_by},
            )  # fmt: skip
        run_id = run.id
    if refused is not None:
        # Outside the session above: a refusal must reach the audit trail, not roll back with the error.
        record_now(
            estate, principal=me.name, action="subject.erase_refused",
            detail={"erasure": f"E{refused}", "requests": _labels(request_ids).split(),
                    "reason": "four eyes: the proposer may not approve"},
        )  # fmt: skip
        raise AccessDenied(
            f"{me.name} proposed erasure E{refused}; a different dpo or admin must approve it (four eyes)"
        )
    with _running(estate, run_id):
        return _run(estate, run_id, me.name)


@contextlib.contextmanager
def _running(estate: Estate, run_id: int) -> Iterator[None]:
    """Only one process runs an erasure at a time: a second approval (or resume) meanwhile is refused, not queued."""
    # A dot cannot be in a dataset name, so this lock never collides with a dataset's.
    path = estate.root / "locks" / "erasure.run.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BusyError(
                f"an erasure is running in another process; run erasure E{run_id} again when it finishes"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _refuse_overlap(
    session: sa.orm.Session, request_ids: list[int], keys: dict[tuple[str, str], set[tuple[int, int]]]
) -> None:
    """One line when a request, or a row, is already in an erasure not yet finished: two runs would fight over it."""
    wanted = {(d, p, i, r) for (d, p), rows in keys.items() for i, r in rows}
    for run in session.scalars(sa.select(ErasureRun).where(ErasureRun.status != "done").order_by(ErasureRun.id)):
        shared = sorted(set(run.request_ids) & set(request_ids))
        if shared:
            raise InputError(
                f"{_labels(shared)} already in erasure E{run.id} ({run.status}) of {_labels(run.request_ids)}: "
                f"approve or finish that one (`joinedup subject erase {_labels(run.request_ids)} --approve`)"
            )
        theirs = session.execute(
            sa.select(SubjectMatch.dataset, SubjectMatch.part, SubjectMatch.ingest, SubjectMatch.source_row).where(
                SubjectMatch.request_id.in_(run.request_ids), SubjectMatch.status == "confirmed"
            )
        ).all()
        overlap = wanted & {tuple(t) for t in theirs}
        if overlap:
            raise InputError(
                f"{_labels(request_ids)}: {len(overlap)} row(s) are already being erased by erasure E{run.id} "
                f"({run.status}) of {_labels(run.request_ids)}; finish that one first"
            )


#: Where a proposed run keeps what was proposed: the rows' count and digest (row keys are numbers, never values).
PROPOSAL = "proposal"


def _proposal(keys: dict[tuple[str, str], set[tuple[int, int]]]) -> dict[str, Any]:
    """What an approval approves: exactly these rows, named by their surrogate keys."""
    listed = sorted((d, p, i, r) for (d, p), rows in keys.items() for i, r in rows)
    return {"rows": len(listed), "digest": hashlib.sha256(json.dumps(listed).encode()).hexdigest()}


def _labels(request_ids: Iterable[int]) -> str:
    return " ".join(f"R{i}" for i in sorted(request_ids))


def _run_for(session: sa.orm.Session, request_ids: list[int]) -> ErasureRun | None:
    """The erasure (not yet finished, or finished) covering exactly these requests."""
    wanted = sorted(request_ids)
    runs = session.scalars(sa.select(ErasureRun).order_by(ErasureRun.id.desc())).all()
    return next((r for r in runs if sorted(r.request_ids) == wanted), None)


def _check(
    estate: Estate, session: sa.orm.Session, request_ids: list[int]
) -> dict[tuple[str, str], set[tuple[int, int]]]:
    """The rows to erase; one clear line when a request cannot be erased (kind, status, not found, hold)."""
    keys: dict[tuple[str, str], set[tuple[int, int]]] = {}
    for request_id in request_ids:
        request = get_row(session, request_id)
        if request.kind != "erasure":
            raise InputError(f"request R{request_id} is an {request.kind} request, not an erasure request")
        if request.status != "open":
            raise InputError(f"request R{request_id} is {request.status}")
        matches = session.scalars(sa.select(SubjectMatch).where(SubjectMatch.request_id == request_id)).all()
        pending = [m for m in matches if m.status == "candidate"]
        if pending:
            raise InputError(
                f"request R{request_id}: {len(pending)} possible match(es) await `subject confirm` or `subject reject`"
            )
        confirmed = [m for m in matches if m.status == "confirmed"]
        if not confirmed:
            raise NotFoundError(
                f"request R{request_id}: the person was not found in any dataset "
                "(run `joinedup subject find` first; nothing to erase)"
            )
        for m in confirmed:
            keys.setdefault((m.dataset, m.part), set()).add((m.ingest, m.source_row))
        mine: dict[tuple[str, str], set[tuple[int, int]]] = {}
        for m in confirmed:
            mine.setdefault((m.dataset, m.part), set()).add((m.ingest, m.source_row))
        held = holds_over(estate, mine, set(request.subject_hashes.values()))
        if held:
            h = held[0]
            raise InputError(
                f"request R{request_id}: dataset {h.dataset!r} is under legal hold H{h.id} ({h.reason}); "
                "erasure refused while the hold stands"
            )
    return keys


def _summary(run: ErasureRun) -> dict[str, Any]:
    return {
        "erasure": f"E{run.id}",
        "requests": [f"R{i}" for i in run.request_ids],
        "status": run.status,
        "proposed_by": run.proposed_by,
        "approved_by": run.approved_by,
        "steps_done": [name for name in run.steps if name != PROPOSAL],
        "certificate": run.certificate,
    }


# -- running ------------------------------------------------------------------------


def _run(estate: Estate, run_id: int, principal: str) -> dict[str, Any]:
    with estate.session() as session:
        run = session.get(ErasureRun, run_id)
        assert run is not None
        details = {i: unseal(estate, f"R{i}", get_row(session, i).sealed) for i in run.request_ids}
        keys: dict[tuple[str, str], set[tuple[int, int]]] = {}
        for m in session.scalars(
            sa.select(SubjectMatch).where(
                SubjectMatch.request_id.in_(run.request_ids), SubjectMatch.status == "confirmed"
            )
        ):
            keys.setdefault((m.dataset, m.part), set()).add((m.ingest, m.source_row))
        done = dict(run.steps)
    job = _Job(estate, run_id, principal, list(run.request_ids), details, keys, done)
    for name, step in STEPS:
        if name in job.done:
            continue
        result = step(job)
        result["at"] = now().isoformat().replace("+00:00", "Z")
        job.done[name] = result
        if name != "certificate":  # the certificate step records itself with the run's end
            with estate.session() as session:
                run = session.get(ErasureRun, run_id)
                assert run is not None
                run.steps = {**run.steps, name: result}
        if after_step is not None:
            after_step(name)
    with estate.session() as session:
        run = session.get(ErasureRun, run_id)
        assert run is not None
        return _summary(run)


def _rewrite_tables(job: _Job) -> dict[str, Any]:
    removed: list[dict[str, Any]] = []
    held_in: list[list[Any]] = []
    for dataset in job.datasets:
        with job.estate.lock(dataset):
            outcome = _rewrite_dataset(job, dataset)
        removed.append(outcome)
        held_in += [[dataset, v] for v in outcome.pop("held_in")]
    return {"removed": removed, "held_in": held_in}


def _rewrite_dataset(job: _Job, dataset: str) -> dict[str, Any]:
    estate = job.estate
    info = Catalogue(estate).get(dataset)
    current = info.version(None)
    table_keys = job.keys.get((dataset, "table"), set())
    quarantine_keys = job.keys.get((dataset, "quarantine"), set())
    table_path, quarantine_path = estate.table_path(dataset), estate.quarantine_path(dataset)
    # A Delta commit a killed run left before its catalogue commit is rolled back, then made again.
    delta.discard_uncatalogued(table_path, current.table_version)
    if current.quarantine_version is not None:
        delta.discard_uncatalogued(quarantine_path, current.quarantine_version)
    predicate_keys = delta.key_predicate(table_keys)
    held_in = [
        v.number for v in info.versions if predicate_keys and _holds(table_path, v.table_version, predicate_keys)
    ]
    in_table = _holds(table_path, current.table_version, predicate_keys) if predicate_keys else False
    q_predicate = delta.key_predicate(quarantine_keys)
    in_quarantine = bool(
        q_predicate and current.quarantine_version is not None
        and _holds(quarantine_path, current.quarantine_version, q_predicate)
    )  # fmt: skip
    if not in_table and not in_quarantine:
        return {"dataset": dataset, "table_rows": 0, "quarantine_rows": 0, "version": None, "held_in": held_in}
    fields = (info.schema or {}).get("fields", [])
    personal = [f["name"] for f in fields if f.get("personal") or f.get("category")]
    table_columns = DeltaTable(str(table_path), version=current.table_version).schema().to_arrow().names
    table_done = delta.Committed(current.table_version, 0, 0, 0)
    if in_table:
        table_done = delta.delete_rows(table_path, table_keys, personal_columns=personal, all_columns=table_columns)
    quarantine_version, quarantine_rows = current.quarantine_version, 0
    if in_quarantine:
        q_columns = DeltaTable(str(quarantine_path)).schema().to_arrow().names
        # Everything in a quarantine is the text as it arrived: no statistics for any of it.
        q_done = delta.delete_rows(quarantine_path, quarantine_keys, personal_columns=q_columns, all_columns=q_columns)
        quarantine_version, quarantine_rows = q_done.version, q_done.deleted
    lineage = Lineage(
        mode="erase", source_name=f"erasure E{job.run_id}", source_sha256="", source_bytes=0, source_format="erasure",
        source_encoding=None, pipeline=PIPELINE, table_version=table_done.version,
        quarantine_version=quarantine_version,
        rows_read=0, rows_inserted=0, rows_updated=0, rows_deleted=table_done.deleted, rows_quarantined=0,
        rows_total=current.rows_total - table_done.deleted, rows_above_header=0, rule_counts={},
    )  # fmt: skip
    with estate.session() as session:
        schema = session.scalars(
            sa.select(SchemaVersion).join(Dataset, SchemaVersion.dataset_id == Dataset.id)
            .where(Dataset.name == dataset).order_by(SchemaVersion.number.desc()).limit(1)
        ).one()  # fmt: skip
        version = Catalogue.record_version(
            session, dataset=dataset, schema=schema.definition, schema_digest=schema.digest,
            principal=job.principal, lineage=lineage,
        )  # fmt: skip
        if in_quarantine:
            _repoint_quarantine(session, dataset, quarantine_version)
        record(
            session, estate, principal=job.principal, action="dataset.erase", dataset=dataset,
            dataset_version=version.number, row_count=table_done.deleted + quarantine_rows,
            subjects=job.subjects(), detail={"erasure": f"E{job.run_id}", "quarantine_rows": quarantine_rows},
        )  # fmt: skip
    return {
        "dataset": dataset, "table_rows": table_done.deleted, "quarantine_rows": quarantine_rows,
        "version": version.number, "held_in": held_in,
    }  # fmt: skip


def _holds(path: Any, version: int, predicate: str) -> bool:
    """Whether the Delta table at ``version`` has a row matching the key predicate (numbers only)."""
    if not _readable(path, version):
        return False  # already purged: holds nothing readable
    data = delta.snapshot(path, version)
    with connect(macros=[]) as con:
        con.register("t", data)
        [(count,)] = con.execute(f"SELECT count(*) FROM t WHERE {predicate}").fetchall()
    return bool(count)


def _repoint_quarantine(session: sa.orm.Session, dataset: str, quarantine_version: int | None) -> None:
    """Every version's quarantine now reads from the Delta version without the person (rows are kept by ingest)."""
    ids = sa.select(Dataset.id).where(Dataset.name == dataset).scalar_subquery()
    session.execute(
        sa.update(DatasetVersion)
        .where(DatasetVersion.dataset_id == ids, DatasetVersion.quarantine_version.is_not(None))
        .values(quarantine_version=quarantine_version)
    )


def _linkage(job: _Job) -> dict[str, Any]:
    # Runs before the rows go: linkage names records by primary key, read back from the data by surrogate key.
    records = [
        record for (dataset, part), keys in sorted(job.keys.items()) if part == "table"
        for record in linkage.record_ids(job.estate, dataset, keys)
    ]  # fmt: skip
    return {"records_removed": linkage.erase_records(job.estate, records)}


def _sealed_queries(job: _Job) -> dict[str, Any]:
    values = sorted({v for d in job.details.values() for k, v in d.items() if k in ("nhs_number", "ni_number", "name")})
    with job.estate.session() as session:
        count = forget_sealed(session, job.estate, principal=job.principal, values=values, purpose="erasure")
    return {"applicable": True, "texts_destroyed": int(count)}


def _sealed_hits(estate: Estate, patterns: dict[str, str]) -> list[tuple[str, str]]:
    found = {
        kind for _seq, text in sealed_texts(estate) for spelling, kind in patterns.items() if spelling in text.lower()
    }
    return [("catalogue: sealed query texts", kind) for kind in sorted(found)]


def _purge_files(job: _Job) -> dict[str, Any]:
    estate = job.estate
    deleted: list[str] = []
    purged: list[list[Any]] = []
    for (dataset, part), keys in sorted(job.keys.items()):
        files = data_files(estate, dataset, part)
        predicate = delta.key_predicate(keys)
        if not files or not predicate:
            continue
        listed = ", ".join(quote_literal(str(f)) for f in files)
        with connect(macros=[]) as con:
            holding = [
                row[0] for row in con.execute(
                    f"SELECT DISTINCT filename FROM read_parquet([{listed}], union_by_name = true, filename = true) "
                    f"WHERE {predicate}"
                ).fetchall()
            ]  # fmt: skip
        for name in holding:
            estate.root.joinpath(name).unlink(missing_ok=True)
            deleted.append(str(estate.root.joinpath(name).relative_to(estate.root)))
    for dataset in job.datasets:
        purged += [[dataset, n] for n in _mark_purged(job, dataset)]
    # Scratch space may hold spilled or staged rows; it is safe to empty (see the estate's layout).
    for child in estate.tmp_dir.iterdir() if estate.tmp_dir.exists() else ():
        shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
    return {"files_deleted": deleted, "versions_purged": purged}


def _mark_purged(job: _Job, dataset: str) -> list[int]:
    """Record the versions of ``dataset`` that no longer read back; their numbers."""
    estate = job.estate
    info = Catalogue(estate).get(dataset)
    with estate.session() as session:
        known = set(session.scalars(sa.select(PurgedVersion.number).where(PurgedVersion.dataset == dataset)))
        newly: list[int] = []
        for v in info.versions:
            if v.number in known or _readable(estate.table_path(dataset), v.table_version):
                continue
            session.add(
                PurgedVersion(
                    dataset=dataset, number=v.number, at=now(),
                    reason=f"its files held rows removed by erasure E{job.run_id}; later versions keep everyone else",
                )
            )  # fmt: skip
            newly.append(v.number)
        return newly


def _readable(path: Any, version: int) -> bool:
    try:
        table = DeltaTable(str(path), version=version)
        return all(Path(uri.removeprefix("file://")).exists() for uri in table.file_uris())
    except Exception:
        return False


def _rewrite_logs(job: _Job) -> dict[str, Any]:
    """Any Delta log or checkpoint still holding a value is replaced by one checkpoint of the current version."""
    estate = job.estate
    patterns = job.patterns()
    rewritten: list[str] = []
    for dataset in job.datasets:
        for root in (estate.table_path(dataset), estate.quarantine_path(dataset)):
            log = root / "_delta_log"
            if not log.exists():
                continue
            found = scan(estate.root, patterns, only=sorted(log.iterdir()))
            if found.clean:
                continue
            table = DeltaTable(str(root))
            table.create_checkpoint()
            current = table.version()
            for entry in log.iterdir():
                head = entry.name.split(".", 1)[0]
                if head.isdigit() and int(head) < current:
                    entry.unlink()
            rewritten.append(str(log.relative_to(estate.root)))
        _mark_purged(job, dataset)
    return {"logs_rewritten": rewritten}


def _vacuum_catalogue(job: _Job) -> dict[str, Any]:
    estate = job.estate
    if not estate.catalogue_url.startswith("sqlite"):
        return {
            "applicable": False,
            "reason": "not applicable: the catalogue is on a database server, outside the estate",
        }
    estate.close()  # pooled connections would keep the old file's pages
    raw = estate.engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        driver.isolation_level = None  # VACUUM cannot run inside a transaction
        driver.execute("VACUUM")
        driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    estate.close()
    return {"applicable": True, "rebuilt": "VACUUM, write-ahead log checkpointed and truncated"}


def _verify(job: _Job) -> dict[str, Any]:
    patterns = job.patterns()
    result = scan(job.estate.root, patterns)
    # Sealed query texts are encrypted, so the byte scan cannot see into them: read them in the clear too.
    result.hits.extend(_sealed_hits(job.estate, patterns))
    if not result.clean:
        # Rows loaded since `subject find` (or values outside any dataset): every step runs again next time,
        # over the rows a new find confirms.
        with job.estate.session() as session:
            run = session.get(ErasureRun, job.run_id)
            assert run is not None
            run.steps = {}
        where = ", ".join(f"{f} ({k})" for f, k in result.hits[:5])
        labels = _labels(job.request_ids)
        raise ErasureIncomplete(
            f"erasure E{job.run_id}: the person's values are still in {len(result.hits)} file(s): {where}; "
            f"no certificate issued: run `joinedup subject find` for {labels} again, "
            f"then `joinedup subject erase {labels} --approve`"
        )
    return result.to_dict()


def _certificate(job: _Job) -> dict[str, Any]:
    estate = job.estate
    recipients = recipients_to_notify(estate, job.datasets)
    with estate.session() as session:
        run = session.get(ErasureRun, job.run_id)
        assert run is not None
        hashes = {}
        for request_id in job.request_ids:
            request = session.get(SubjectRequest, request_id)
            assert request is not None
            hashes[f"R{request_id}"] = dict(request.subject_hashes)
            request.status, request.closed_at, request.closed_by = "erased", now(), job.principal
            request.outcome = f"erased (certificate E{job.run_id})"
            request.sealed = None
        finished = now()
        certificate = {
            "certificate": f"E{job.run_id}",
            "requests": [f"R{i}" for i in job.request_ids],
            "subjects": hashes,
            "proposed_by": run.proposed_by,
            "approved_by": run.approved_by,
            "approved_at": run.approved_at.isoformat().replace("+00:00", "Z") if run.approved_at else None,
            "finished_at": finished.isoformat().replace("+00:00", "Z"),
            "removed": job.done["rewrite_tables"]["removed"],
            "files_deleted": job.done["purge_files"]["files_deleted"],
            "versions_purged": job.done["purge_files"]["versions_purged"],
            "linkage": job.done["linkage"],
            "sealed_queries": job.done["sealed_queries"],
            "logs_rewritten": job.done["rewrite_logs"]["logs_rewritten"],
            "catalogue": job.done["catalogue"],
            "verification": job.done["verify"],
            "notify": recipients,
        }
        run.certificate, run.status, run.finished_at = certificate, "done", finished
        run.steps = {**run.steps, "certificate": {"at": certificate["finished_at"]}}
        record(
            session, estate, principal=job.principal, action="subject.erase", subjects=job.subjects(),
            row_count=sum(r["table_rows"] + r["quarantine_rows"] for r in certificate["removed"]),
            detail={
                "erasure": f"E{job.run_id}", "held_in": job.done["rewrite_tables"]["held_in"],
                "verified": job.done["verify"]["clean"],
            },
        )  # fmt: skip
    # The sealed identifiers go last: until now a re-run needed them to finish the job.
    for request_id in job.request_ids:
        destroy(estate, f"R{request_id}")
    return {"certificate": f"E{job.run_id}"}


#: The erasure, in order; each step's name is recorded in the catalogue when it finishes.
STEPS: list[tuple[str, Step]] = [
    ("linkage", _linkage),
    ("rewrite_tables", _rewrite_tables),
    ("sealed_queries", _sealed_queries),
    ("purge_files", _purge_files),
    ("rewrite_logs", _rewrite_logs),
    ("catalogue", _vacuum_catalogue),
    ("verify", _verify),
    ("certificate", _certificate),
]


def certificate(estate: Estate, principal: str, request_id: int) -> dict[str, Any]:
    """The erasure certificate of a request (after the erasure finished)."""
    authorize(estate, principal, ACTION)
    with estate.session() as session:
        run = _run_for_request(session, request_id)
        if run is None or run.certificate is None:
            raise NotFoundError(f"request R{request_id} has no erasure certificate (no finished erasure)")
        return dict(run.certificate)


def _run_for_request(session: sa.orm.Session, request_id: int) -> ErasureRun | None:
    runs = session.scalars(sa.select(ErasureRun).order_by(ErasureRun.id.desc())).all()
    return next((r for r in runs if request_id in r.request_ids), None)
