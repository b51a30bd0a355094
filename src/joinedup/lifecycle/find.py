"""Finding a person everywhere: exact identifiers first, then a scored search for a person to confirm.

Every Parquet file of a dataset's table and quarantine is searched, not just the
current version: erasure must reach old versions too. A row is named by its
surrogate key (``_ingest``, ``_source_row``), which is what erasure deletes by.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from joinedup import linkage
from joinedup.access import authorize
from joinedup.audit import record
from joinedup.errors import NotFoundError
from joinedup.estate import Catalogue, Estate
from joinedup.estate.models import Dataset, SchemaVersion
from joinedup.lifecycle.models import SubjectMatch
from joinedup.lifecycle.requests import get_row, subjects_of
from joinedup.lifecycle.sealing import unseal
from joinedup.storage.duck import connect, quote_identifier, quote_literal

#: A scored candidate needs at least this share of the details given to agree.
CANDIDATE_SCORE = 0.6
_CANDIDATES_PER_DATASET = 50
_SEPARATORS = "[\\s-]"
PARTS = ("table", "quarantine")


@dataclass(frozen=True)
class Match:
    dataset: str
    part: str
    ingest: int
    source_row: int
    basis: str
    score: float
    status: str

    @property
    def row(self) -> str:
        return f"{self.ingest}:{self.source_row}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "part": self.part, "row": self.row, "basis": self.basis,
            "score": round(self.score, 3), "status": self.status,
        }  # fmt: skip


def data_files(estate: Estate, dataset: str, part: str) -> list[Path]:
    """Every Parquet file under the dataset's table or quarantine folder, referenced by any version or none."""
    root = estate.table_path(dataset) if part == "table" else estate.quarantine_path(dataset)
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*.parquet") if "_delta_log" not in p.parts)


def schema_fields(estate: Estate, dataset: str) -> list[dict[str, Any]]:
    """Every field any schema version of ``dataset`` declared (the latest declaration of each name)."""
    with estate.session() as session:
        definitions = session.scalars(
            sa.select(SchemaVersion.definition)
            .join(Dataset, SchemaVersion.dataset_id == Dataset.id)
            .where(Dataset.name == dataset)
            .order_by(SchemaVersion.number)
        ).all()
    fields: dict[str, dict[str, Any]] = {}
    for definition in definitions:
        for f in definition.get("fields", []):
            fields[f["name"]] = f
    return list(fields.values())


def _of_kind(fields: list[dict[str, Any]], kind: str) -> list[str]:
    return [f["name"] for f in fields if kind in (f.get("type"), f.get("format"))]


def _name_columns(fields: list[dict[str, Any]]) -> list[str]:
    return [f["name"] for f in fields if f.get("format") == "person_name" or f.get("category") == "name"]


def _dob_columns(fields: list[dict[str, Any]]) -> list[str]:
    return [f["name"] for f in fields if f.get("category") == "date_of_birth"]


def _files_sql(files: list[Path]) -> str:
    listed = ", ".join(quote_literal(str(f)) for f in files)
    return f"read_parquet([{listed}], union_by_name = true)"


def _columns(con: Any, source: str) -> set[str]:
    return {row[0] for row in con.execute(f"SELECT column_name FROM (DESCRIBE SELECT * FROM {source})").fetchall()}


def exact_keys(estate: Estate, dataset: str, part: str, details: dict[str, str]) -> set[tuple[int, int]]:
    """Surrogate keys of every row (in any file) whose NHS or NI number is the person's."""
    files = data_files(estate, dataset, part)
    wanted = {k: v for k, v in details.items() if k in ("nhs_number", "ni_number")}
    if not files or not wanted:
        return set()
    fields = schema_fields(estate, dataset)
    with connect(temp_dir=estate.tmp_dir / "lifecycle", macros=list(wanted)) as con:
        source = _files_sql(files)
        present = _columns(con, source)
        tests: list[str] = []
        for kind, value in wanted.items():
            literal = quote_literal(value)
            for column in (c for c in _of_kind(fields, kind) if c in present):
                q = quote_identifier(column)
                if part == "table":
                    tests.append(f"{q} = {literal}")
                else:  # the quarantine holds text as typed: standardise it as ingest would
                    tests.append(f"(jd_{kind}({q}) = {literal} OR {_compact(q)} = {literal})")
            if part == "quarantine" and "_line" in present:
                tests.append(f"contains({_compact('_line')}, {literal})")
        if not tests:
            return set()
        rows = con.execute(f"SELECT DISTINCT _ingest, _source_row FROM {source} WHERE {' OR '.join(tests)}")
        return {(int(i), int(r)) for i, r in rows.fetchall()}


def _compact(expression: str) -> str:
    return f"regexp_replace(upper({expression}), {quote_literal(_SEPARATORS)}, '', 'g')"


def scored_keys(estate: Estate, dataset: str, details: dict[str, str]) -> dict[tuple[int, int], float]:
    """Rows of the table whose name, date of birth and postcode are like the person's, with their score (0-1)."""
    files = data_files(estate, dataset, "table")
    if not files:
        return {}
    fields = schema_fields(estate, dataset)
    with connect(temp_dir=estate.tmp_dir / "lifecycle", macros=[]) as con:
        source = _files_sql(files)
        present = _columns(con, source)
        parts: list[str] = []
        if "name" in details:
            names = [c for c in _name_columns(fields) if c in present]
            wanted = quote_literal(details["name"].lower())
            sims = [f"coalesce(jaro_winkler_similarity(lower({quote_identifier(c)}), {wanted}), 0)" for c in names]
            parts.append(f"greatest({', '.join(sims)})" if sims else "0")
        if "date_of_birth" in details:
            dobs = [c for c in _dob_columns(fields) if c in present]
            tests = [
                f"CAST({quote_identifier(c)} AS VARCHAR) = {quote_literal(details['date_of_birth'])}" for c in dobs
            ]
            parts.append(f"CASE WHEN {' OR '.join(tests)} THEN 1 ELSE 0 END" if tests else "0")
        if "postcode" in details:
            codes = [c for c in _of_kind(fields, "postcode") if c in present]
            tests = [f"{quote_identifier(c)} = {quote_literal(details['postcode'])}" for c in codes]
            parts.append(f"CASE WHEN {' OR '.join(tests)} THEN 1 ELSE 0 END" if tests else "0")
        if len(parts) < 2:
            return {}  # one detail alone (a name) is too weak to propose anyone
        score = f"({' + '.join(parts)}) / {len(parts)}.0"
        rows = con.execute(
            f"SELECT _ingest, _source_row, max({score}) AS s FROM {source} GROUP BY ALL "
            f"HAVING s >= {CANDIDATE_SCORE} ORDER BY s DESC LIMIT {_CANDIDATES_PER_DATASET}"
        ).fetchall()
        return {(int(i), int(r)): float(s) for i, r, s in rows}


def find_subject(estate: Estate, principal: str, request_id: int) -> list[Match]:
    """Search every dataset for the request's person; exact matches are confirmed, scored ones await a person."""
    me = authorize(estate, principal, "subject.find")
    with estate.session() as session:
        row = get_row(session, request_id)
        details = unseal(estate, f"R{row.id}", row.sealed)
    found: list[tuple[str, str, tuple[int, int], str, float]] = []
    for info in Catalogue(estate).datasets():
        exact: set[tuple[int, int]] = set()
        for part in PARTS:
            keys = exact_keys(estate, info.name, part, details)
            exact |= keys if part == "table" else set()
            found += [(info.name, part, k, "identifier", 1.0) for k in keys]
        for key, score in scored_keys(estate, info.name, details).items():
            if key not in exact:
                found.append((info.name, "table", key, "search", score))
    found = _by_person_key(estate, found)
    with estate.session() as session:
        existing = {
            (m.dataset, m.part, m.ingest, m.source_row): m
            for m in session.scalars(sa.select(SubjectMatch).where(SubjectMatch.request_id == request_id))
        }
        for dataset, part, (ingest, source_row), basis, score in found:
            match = existing.get((dataset, part, ingest, source_row))
            if match is None:
                status = "confirmed" if basis == "identifier" else "candidate"
                match = SubjectMatch(
                    request_id=request_id, dataset=dataset, part=part, ingest=ingest, source_row=source_row,
                    basis=basis, score=score, status=status, decided_by=me.name if basis == "identifier" else None,
                )  # fmt: skip
                session.add(match)
                existing[(dataset, part, ingest, source_row)] = match
        counts: dict[str, int] = {}
        for m in existing.values():
            counts[f"{m.dataset}.{m.part}.{m.status}"] = counts.get(f"{m.dataset}.{m.part}.{m.status}", 0) + 1
        record(
            session, estate, principal=me.name, action="subject.find", subjects=subjects_of(details),
            row_count=len(existing), detail={"request": f"R{request_id}", "counts": counts},
        )  # fmt: skip
        return sorted((_match(m) for m in existing.values()), key=lambda m: (m.dataset, m.part, m.ingest, m.source_row))


def _by_person_key(
    estate: Estate, found: list[tuple[str, str, tuple[int, int], str, float]]
) -> list[tuple[str, str, tuple[int, int], str, float]]:
    """Add the records linkage gave the same person key as an exact match, as candidates for a person to confirm.

    Linkage is probabilistic, so what it adds is proposed, never confirmed by itself.
    """
    exact = [(d, k) for d, part, k, basis, _ in found if part == "table" and basis == "identifier"]
    records = [
        r for d in sorted({d for d, _ in exact}) for r in linkage.record_ids(estate, d, [k for x, k in exact if x == d])
    ]
    ids: dict[str, set[str]] = {}
    for key in linkage.keys_for_records(estate, records):
        for dataset, record_id in linkage.records_for_key(estate, key):
            ids.setdefault(dataset, set()).add(record_id)
    seen = {(d, part, k) for d, part, k, _, _ in found}
    linked = [
        (dataset, "table", key, "person key", 1.0) for dataset in sorted(ids)
        for key in sorted(linkage.rows_for_ids(estate, dataset, ids[dataset]))
        if (dataset, "table", key) not in seen
    ]  # fmt: skip
    return [*found, *linked]


def _match(m: SubjectMatch) -> Match:
    return Match(m.dataset, m.part, m.ingest, m.source_row, m.basis, m.score, m.status)


def matches(estate: Estate, request_id: int, status: str | None = None) -> list[Match]:
    with estate.session() as session:
        query = sa.select(SubjectMatch).where(SubjectMatch.request_id == request_id)
        if status is not None:
            query = query.where(SubjectMatch.status == status)
        return [_match(m) for m in session.scalars(query.order_by(SubjectMatch.id))]


def decide(
    estate: Estate, principal: str, request_id: int, dataset: str, row: tuple[int, int], *,
    confirm: bool, part: str = "table",
) -> Match:  # fmt: skip
    """Confirm (or reject) that a found row is the request's person."""
    me = authorize(estate, principal, "subject.find")
    with estate.session() as session:
        request = get_row(session, request_id)
        match = session.scalars(
            sa.select(SubjectMatch).where(
                SubjectMatch.request_id == request_id, SubjectMatch.dataset == dataset, SubjectMatch.part == part,
                SubjectMatch.ingest == row[0], SubjectMatch.source_row == row[1],
            )
        ).one_or_none()  # fmt: skip
        if match is None:
            raise NotFoundError(
                f"request R{request_id} found no row {row[0]}:{row[1]} in {dataset!r} ({part}); "
                "run `joinedup subject find` and use a row it lists"
            )
        match.status = "confirmed" if confirm else "rejected"
        match.decided_by = me.name
        record(
            session, estate, principal=me.name, action="subject.confirm" if confirm else "subject.reject",
            dataset=dataset, row_count=1,
            detail={"request": f"R{request.id}", "part": part, "row": f"{row[0]}:{row[1]}"},
        )  # fmt: skip
        return _match(match)
