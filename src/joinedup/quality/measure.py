"""Measuring a dataset version: every rule in one scan (plus one for rules that join another dataset).

The results, the drift flags, the cost estimate, the issue log's changes and
the audit entry commit in one catalogue transaction.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import sqlalchemy as sa

from joinedup.access import authorize
from joinedup.audit import record
from joinedup.errors import AccessDenied, EstateError, JoinedupError, NotFoundError, SchemaError
from joinedup.estate import Catalogue, Estate, VersionInfo
from joinedup.estate.db import now
from joinedup.estate.models import Dataset, SchemaVersion
from joinedup.quality import drift as drift_
from joinedup.quality.cost import cost_model, estimate
from joinedup.quality.issues import update_issues
from joinedup.quality.models import ResultRow, RuleRow
from joinedup.quality.rules import (
    DIMENSIONS,
    Rule,
    check_against_schema,
    default_rules,
    parse_rules,
    rule_from_dict,
)
from joinedup.quality.sql import Compiled, compile_rule, is_joined, joined_sql, scan_sql, unpack_key
from joinedup.schema import Schema
from joinedup.storage import delta
from joinedup.storage.duck import error_kind, interrupted, sealed, size_in_bytes

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.dataset as pads


@dataclass
class QualityResult:
    """One measurement of one version: scores per dimension, each rule's result, drift, cost."""

    dataset: str
    version: int
    measured_at: datetime
    measured_by: str
    rows: int
    scores: dict[str, Any]
    rules: list[dict[str, Any]]
    profile: dict[str, Any]
    drift: list[dict[str, Any]]
    cost: dict[str, Any]
    seconds: float
    issues_opened: list[int] = field(default_factory=list)
    issues_closed: list[int] = field(default_factory=list)

    @property
    def failing(self) -> list[dict[str, Any]]:
        return [r for r in self.rules if r.get("passed") is False]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> dict[str, Any]:
        """What an ingest's summary shows: scores, failing rules, drift and cost, no row keys."""
        return {
            "version": self.version,
            "scores": self.scores,
            "rules": len(self.rules),
            "failing_rules": [r["id"] for r in self.failing],
            "drift": [d["id"] for d in self.drift],
            "cost": self.cost["total"],
            "currency": self.cost["currency"],
        }


def measure(estate: Estate, dataset: str, *, principal: str, version: int | None = None) -> QualityResult:
    """Measure every rule of ``dataset`` on ``version`` (default: the current one) and record the results."""
    authorize(estate, principal, "quality.measure", dataset=dataset)
    return _measure(estate, dataset, principal, version)


def measure_after_ingest(
    estate: Estate,
    dataset: str,
    version: int,
    principal: str,
    rows: pa.Table | None = None,
    prescan: Prescan | None = None,
) -> dict[str, Any]:
    """Measure a version an ingest has just committed; a failure is reported, never raised.

    The ingest has already succeeded: quality must never fail or undo it.
    ``rows`` is the version's whole table when the ingest still holds it (a
    replace): the same rules then run over it instead of reading the version
    back from disk, which at a million rows is most of what measuring costs.
    ``prescan`` is the scan of those rows the ingest started before its commit.
    """
    try:
        return _measure(estate, dataset, principal, version, rows, prescan).summary()
    except JoinedupError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # the ingest stands whatever happens here
        if interrupted(exc):
            raise  # Ctrl-C: the command stops (the version stands, committed before this)
        return {"error": f"quality was not measured ({error_kind(exc)}); run `joinedup quality measure -d {dataset}`"}


def rules_for(estate: Estate, dataset: str, schema: Schema) -> list[Rule]:
    """The schema's default rules, then the registered ones (a registered rule replaces a default of the same id)."""
    with estate.session() as session:
        stored = session.scalars(sa.select(RuleRow).where(RuleRow.dataset == dataset).order_by(RuleRow.id)).all()
        registered = [rule_from_dict(row.definition) for row in stored]
    declared = schema_rules(schema)
    ids = {r.id for r in registered}
    # A rule declared later (schema over defaults, registered over both) replaces one of the same id.
    merged = {r.id: r for r in default_rules(schema) + declared if r.id not in ids}
    return list(merged.values()) + registered


def schema_rules(schema: Schema, source: str = "schema") -> list[Rule]:
    """The rules under ``quality:`` in the schema, checked against its columns (a bad one is a SchemaError)."""
    if schema.quality is None:
        return []
    return list(parse_rules(schema.quality, schema, source=source).rules)


def version_schema(estate: Estate, dataset: str, info: VersionInfo) -> Schema:
    with estate.session() as session:
        definition = session.scalar(
            sa.select(SchemaVersion.definition)
            .join(Dataset, Dataset.id == SchemaVersion.dataset_id)
            .where(Dataset.name == dataset, SchemaVersion.number == info.schema_number)
        )
    if definition is None:
        raise NotFoundError(f"dataset {dataset!r} version {info.number}: its schema is missing from the catalogue")
    return Schema.from_dict(definition, f"schema of {dataset!r}")


def _measure(
    estate: Estate,
    dataset: str,
    principal: str,
    number: int | None,
    rows: pa.Table | None = None,
    prescan: Prescan | None = None,
) -> QualityResult:
    started = time.perf_counter()
    catalogue = Catalogue(estate)
    info = catalogue.get(dataset)
    version = info.version(number)
    schema = version_schema(estate, dataset, version)
    rules = rules_for(estate, dataset, schema)
    if rows is not None and rows.num_rows != version.rows_total:
        rows = prescan = None  # not this version's rows after all: read the version itself
    table = rows if rows is not None else delta.snapshot(estate.table_path(dataset), version.table_version)
    scanned = prescan.values() if prescan is not None else None
    results = _run_rules(estate, catalogue, dataset, version, schema, rules, principal, table, scanned)
    profile = results.pop("__profile__")
    # Counts by column and rule only: the quarantine itself holds the values.
    profile["quarantine"] = {"rows": version.rows_quarantined, "reasons": version.rule_counts}
    ordered = [results[r.id] for r in rules]
    scores = _scores(ordered)
    history = _profiles_before(estate, dataset, version.number)
    flags = drift_.detect(profile, history)
    cost = estimate(cost_model(estate), ordered, version.rows_quarantined)
    measured = QualityResult(
        dataset=dataset,
        version=version.number,
        measured_at=now(),
        measured_by=principal,
        rows=profile["rows"],
        scores=scores,
        rules=ordered,
        profile=profile,
        drift=flags,
        cost=cost,
        seconds=round(time.perf_counter() - started, 3),
    )
    current = info.current is not None and info.current.number == version.number
    _store(estate, measured, current)
    return measured


def _run_rules(
    estate: Estate,
    catalogue: Catalogue,
    dataset: str,
    version: VersionInfo,
    schema: Schema,
    rules: list[Rule],
    principal: str,
    table: pa.Table | pads.Dataset,
    scanned: tuple[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Each rule's result by id over ``table`` (the version's rows), and the version's profile under ``__profile__``.

    ``scanned`` is a main scan already run over the same rows (its SQL and values): used when
    the rules compile to that same SQL.
    """
    results: dict[str, Any] = {}
    views: dict[str, Any] = {"t": table}
    references: dict[str, str] = {}
    for rule in rules:
        problem = _no_longer_fits(rule, schema)
        if problem:
            results[rule.id] = _result(rule, None, 0, 0, [], error=problem)
    for rule in rules:
        if is_joined(rule) and rule.id not in results:
            problem = _attach_reference(estate, catalogue, rule, views, references, principal)
            if problem:
                results[rule.id] = _result(rule, None, 0, 0, [], error=problem)
    unfit = set(results)  # checked once, just above: checking an expression runs DuckDB
    row_rules, uniques = _scanned_rules(rules, schema, version.created_at, unfit=unfit)
    joined: list[Compiled] = []
    for rule in rules:
        if rule.id in results:
            continue
        if rule.check in _CATALOGUE_CHECKS:
            results[rule.id] = _catalogue_rule(rule, catalogue, dataset, version)
        elif is_joined(rule):
            compiled = compile_rule(rule, schema, version.created_at, references)
            assert compiled is not None
            joined.append(compiled)
    macros = _macros(row_rules)
    with sealed(
        estate.tmp_dir,
        views=views,
        memory_limit=estate.config.memory_limit,
        threads=estate.config.threads,
        macros=macros,
    ) as con:
        try:
            sql, names = scan_sql(row_rules, uniques, schema)
            if scanned is not None and scanned[0] == sql:
                values = scanned[1]
            else:
                values = dict(zip(names, _one_row(con, sql, dataset), strict=True))
        except EstateError:
            # One rule failing on the data (a cast of a value that does not convert) must not lose the
            # others: find the ones that fail on their own, report them, and scan the rest together.
            row_rules, uniques = _measurable(con, row_rules, uniques, schema, dataset, results)
            sql, names = scan_sql(row_rules, uniques, schema)
            values = dict(zip(names, _one_row(con, sql, dataset), strict=True))
        for i, c in enumerate(row_rules):
            results[c.rule.id] = _result(c.rule, *_counts(values, i))
        for i, rule in enumerate(uniques):
            checked, distinct = values[f"u{i}_n"], values[f"u{i}_d"]
            results[rule.id] = _result(rule, None, checked, checked - distinct, [])
        if joined:
            try:
                sql, names = joined_sql(joined)
                extra = dict(zip(names, _one_row(con, sql, dataset), strict=True))
            except EstateError:
                joined = [c for c in joined if _runs_alone(con, joined_sql([c])[0], c.rule, dataset, results)]
                sql, names = joined_sql(joined)
                extra = dict(zip(names, _one_row(con, sql, dataset), strict=True)) if joined else {}
            for i, c in enumerate(joined):
                results[c.rule.id] = _result(c.rule, *_counts(extra, i))
    results["__profile__"] = _profile(values, schema)
    return results


class Prescan:
    """The main scan of rows an ingest is about to commit, run in a thread while it finishes.

    After the valid rows are written, an ingest's remaining steps (its rejected
    rows, the quarantine, the commit) mostly keep one core busy: the scan runs on
    the other meanwhile. It computes only what the rows alone decide (no
    catalogue writes, no other dataset); measuring after the commit uses it when
    the rules then compile to the same SQL, and scans again otherwise. A failure
    leaves nothing to use, never an error.
    """

    def __init__(self, estate: Estate, dataset: str, schema: Schema, rows: pa.Table) -> None:
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._result: tuple[str, dict[str, Any]] | None = None
        self._thread: threading.Thread | None = None
        try:
            # The rules are read here, in the ingest's thread: the thread itself touches no catalogue.
            row_rules, uniques = _scanned_rules(rules_for(estate, dataset, schema), schema, now())
        except Exception:  # nothing to start: the measurement after the commit finds and reports the problem
            return
        self._thread = threading.Thread(
            target=self._run,
            args=(estate, dataset, schema, rows, row_rules, uniques),
            name="joinedup-quality-prescan",
            daemon=True,
        )

    def start(self) -> None:
        """Start the scan. Apart from making it: whoever will stop it holds it before a thread exists."""
        if self._thread is not None:
            self._thread.start()

    def _run(
        self,
        estate: Estate,
        dataset: str,
        schema: Schema,
        rows: pa.Table,
        row_rules: list[Compiled],
        uniques: list[Rule],
    ) -> None:
        try:
            sql, names = scan_sql(row_rules, uniques, schema)
            # A quarter of the estate's memory: it runs beside the ingest's own connection. Needing more, it
            # fails, and the measurement after the commit scans with the whole limit.
            share = size_in_bytes(estate.config.memory_limit) // 4
            with sealed(
                estate.tmp_dir,
                views={"t": rows},
                memory_limit=f"{share}B",
                threads=estate.config.threads,
                macros=_macros(row_rules),
            ) as con:
                with self._lock:
                    if self._stopped:
                        return
                    self._connection = con
                try:
                    values = dict(zip(names, _one_row(con, sql, dataset), strict=True))
                finally:
                    with self._lock:
                        self._connection = None
            self._result = (sql, values)
        except Exception:  # the measurement after the commit scans again, and reports any failure itself
            self._result = None

    def values(self) -> tuple[str, dict[str, Any]] | None:
        """The scan's SQL and values, waiting for it to finish; None if it failed or never started."""
        if self._thread is not None and self._thread.ident is not None:
            self._thread.join()
        return self._result

    def stop(self) -> None:
        """Stop the scan and wait for its thread (the ingest failed: nothing will measure these rows)."""
        with self._lock:
            self._stopped = True
        if self._thread is None or self._thread.ident is None:
            return  # never started
        # Again until the thread ends: DuckDB forgets an interrupt that comes before its query has begun.
        while self._thread.is_alive():
            with self._lock:
                if self._connection is not None:
                    with contextlib.suppress(Exception):
                        self._connection.interrupt()
            self._thread.join(timeout=0.05)


#: Rules measured from the catalogue's record of a version, not from its rows.
_CATALOGUE_CHECKS = ("quarantine", "freshness")


def _macros(row_rules: list[Compiled]) -> list[str]:
    """The ``jd_<type>`` macros a scan needs: only uk_type rules call them (a rule's own SQL is checked without)."""
    return sorted({c.rule.type for c in row_rules if c.rule.check == "uk_type" and c.rule.type})


def _scanned_rules(
    rules: list[Rule], schema: Schema, loaded_at: datetime, *, unfit: set[str] | None = None
) -> tuple[list[Compiled], list[Rule]]:
    """The rules the main scan of a version's rows measures: not those joining another dataset, not the
    catalogue's, not those that no longer fit the schema (``unfit`` names them when already known)."""
    row_rules: list[Compiled] = []
    uniques: list[Rule] = []
    for rule in rules:
        if is_joined(rule) or rule.check in _CATALOGUE_CHECKS:
            continue
        if rule.id in unfit if unfit is not None else _no_longer_fits(rule, schema):
            continue
        if rule.check == "uniqueness":
            uniques.append(rule)
        else:
            compiled = compile_rule(rule, schema, loaded_at, {})
            assert compiled is not None
            row_rules.append(compiled)
    return row_rules, uniques


def _measurable(
    con: duckdb.DuckDBPyConnection,
    row_rules: list[Compiled],
    uniques: list[Rule],
    schema: Schema,
    dataset: str,
    results: dict[str, Any],
) -> tuple[list[Compiled], list[Rule]]:
    """The rules that can be measured, each tried alone; those that cannot go into ``results`` with the reason."""
    kept = [
        c for c in row_rules if _runs_alone(con, scan_sql([c], [], schema, profile=False)[0], c.rule, dataset, results)
    ]
    unique = [u for u in uniques if _runs_alone(con, scan_sql([], [u], schema, profile=False)[0], u, dataset, results)]
    return kept, unique


def _runs_alone(con: duckdb.DuckDBPyConnection, sql: str, rule: Rule, dataset: str, results: dict[str, Any]) -> bool:
    """True when the rule's own query runs; otherwise its result records why it was not measured."""
    try:
        _one_row(con, sql, dataset)
    except EstateError as exc:
        reason = str(exc).rsplit("(", 1)[-1].rstrip(")")
        results[rule.id] = _result(rule, None, 0, 0, [], error=f"not measured: the rule failed on the data ({reason})")
        return False
    return True


def _no_longer_fits(rule: Rule, schema: Schema) -> str | None:
    """Why a registered rule cannot be measured on this version's schema (a column since dropped), or None."""
    if rule.source == "default":
        return None
    try:
        check_against_schema(rule, schema, lambda message: SchemaError(message))
    except SchemaError as exc:
        return f"not measured on this version: {exc}"
    return None


def _one_row(con: duckdb.DuckDBPyConnection, sql: str, dataset: str) -> tuple[Any, ...]:
    try:
        row = con.execute(sql).fetchone()
    except duckdb.Error as exc:
        # DuckDB's message can quote the data: only its kind is shown.
        raise EstateError(f"quality of {dataset!r}: measuring failed ({error_kind(exc)})") from None
    assert row is not None
    return tuple(row)


def _counts(values: dict[str, Any], i: int) -> tuple[None, int, int, list[list[int]]]:
    samples = sorted(values[f"r{i}_s"] or [])
    return None, values[f"r{i}_n"], values[f"r{i}_f"], [unpack_key(k) for k in samples]


def _attach_reference(
    estate: Estate,
    catalogue: Catalogue,
    rule: Rule,
    views: dict[str, Any],
    references: dict[str, str],
    principal: str,
) -> str | None:
    """Register the dataset a rule looks into (its current version); the reason it cannot be, or None."""
    other = (rule.reference or "").partition(".")[0]
    info = catalogue.find(other)
    if info is None or info.current is None:
        return f"reference dataset {other!r} has no versions in the estate"
    try:
        # Counts of agreement tell something about the other dataset's rows: only for those who may query it.
        authorize(estate, principal, "data.query", dataset=other, purpose=f"quality rule {rule.id}")
    except AccessDenied:
        return f"not measured: {principal} may not read {other!r}, which the rule compares with"
    snapshot: pads.Dataset = delta.snapshot(estate.table_path(other), info.current.table_version)
    needed = [(rule.reference or "").partition(".")[2]] if rule.check == "reference" else list(rule.columns)
    missing = [c for c in needed if c not in snapshot.schema.names]
    if missing:
        return f"reference dataset {other!r} has no column {missing[0]!r}"
    name = f"ref_{len(references)}"
    views[name] = snapshot
    references[rule.id] = name
    return None


def _catalogue_rule(rule: Rule, catalogue: Catalogue, dataset: str, version: VersionInfo) -> dict[str, Any]:
    """Rules measured from the catalogue, not the rows: the quarantine share and freshness."""
    if rule.check == "quarantine":
        read = version.rows_read
        return _result(rule, 1.0 - version.rows_quarantined / read if read else 1.0, read, version.rows_quarantined, [])
    newest = catalogue.get(dataset).current
    assert newest is not None
    age = (now() - newest.created_at).total_seconds() / 86_400
    fresh = age <= (rule.max_age_days or 0)
    result = _result(rule, 1.0 if fresh else 0.0, 1, 0 if fresh else 1, [])
    result["age_days"] = round(age, 2)
    return result


def _result(
    rule: Rule,
    metric: float | None,
    checked: int,
    failing: int,
    samples: list[list[int]],
    error: str | None = None,
) -> dict[str, Any]:
    if metric is None and error is None:
        metric = 1.0 - failing / checked if checked else 1.0
    result: dict[str, Any] = {
        "id": rule.id,
        "check": rule.check,
        "dimension": rule.dimension,
        "columns": list(rule.columns),
        "importance": rule.importance,
        "owner": rule.owner,
        "metric_name": rule.metric,
        "target": rule.target,
        "metric": None if metric is None else round(metric, 6),
        "passed": None if metric is None else metric >= rule.target,
        "rows_checked": checked,
        "rows_failing": failing,
        "sample_keys": samples,
        "source": rule.source,
    }
    if error:
        result["error"] = error
    return result


def _scores(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Per dimension, the importance-weighted mean of its rules' metrics (0-1); overall, the mean of those."""
    weights = {"high": 3, "medium": 2, "low": 1}
    scores: dict[str, Any] = {}
    for dimension in DIMENSIONS:
        measured = [r for r in results if r["dimension"] == dimension and r["metric"] is not None]
        if measured:
            total = sum(weights[r["importance"]] for r in measured)
            scores[dimension] = round(sum(weights[r["importance"]] * r["metric"] for r in measured) / total, 4)
    present = [v for v in scores.values()]
    scores["overall"] = round(sum(present) / len(present), 4) if present else None
    return scores


def _profile(values: dict[str, Any], schema: Schema) -> dict[str, Any]:
    rows = int(values["n_rows"])
    columns: dict[str, Any] = {}
    for j, name in enumerate(schema.names):
        present = int(values[f"p{j}_present"])
        mean = values.get(f"p{j}_mean")
        columns[name] = {
            "null_share": round(1 - present / rows, 6) if rows else 0.0,
            "distinct": int(values[f"p{j}_distinct"]),
            "mean": None if mean is None else float(mean),
        }
    return {"rows": rows, "columns": columns}


def _profiles_before(estate: Estate, dataset: str, version: int) -> list[dict[str, Any]]:
    """The latest profile of each earlier version, oldest first."""
    with estate.session() as session:
        rows = session.execute(
            sa.select(ResultRow.version, ResultRow.profile)
            .where(ResultRow.dataset == dataset, ResultRow.version < version)
            .order_by(ResultRow.version, ResultRow.id)
        ).all()
    latest = {v: p for v, p in rows}
    return [latest[v] for v in sorted(latest)]


def _store(estate: Estate, measured: QualityResult, current: bool) -> None:
    """Results, issue changes and the audit entry in one transaction."""
    with estate.session() as session:
        session.add(
            ResultRow(
                dataset=measured.dataset,
                version=measured.version,
                measured_at=measured.measured_at,
                measured_by=measured.measured_by,
                rows=measured.rows,
                scores=measured.scores,
                rules=measured.rules,
                profile=measured.profile,
                drift=measured.drift,
                cost=measured.cost,
                seconds=measured.seconds,
            )
        )
        if current:
            opened, closed = update_issues(session, measured.dataset, measured.version, measured.rules, measured.drift)
            measured.issues_opened, measured.issues_closed = opened, closed
        session.flush()
        record(
            session,
            estate,
            principal=measured.measured_by,
            action="quality.measure",
            dataset=measured.dataset,
            dataset_version=measured.version,
            row_count=measured.rows,
            detail={
                "scores": measured.scores,
                "failing_rules": [r["id"] for r in measured.failing],
                "drift": [d["id"] for d in measured.drift],
                "issues_opened": measured.issues_opened,
                "issues_closed": measured.issues_closed,
            },
        )
