"""Registering rules, and reading results, history and issues back (audited: results name failing rows)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from joinedup.access import authorize
from joinedup.access.identity import Principal
from joinedup.access.reads import Fetched, read_as
from joinedup.audit import record
from joinedup.errors import NotFoundError, SchemaError
from joinedup.estate import Catalogue, Estate
from joinedup.estate.db import now
from joinedup.quality.issues import OPEN, issue_dict
from joinedup.quality.measure import rules_for
from joinedup.quality.models import IssueRow, ResultRow, RuleRow
from joinedup.quality.rules import Rule, load_rules
from joinedup.schema import Schema


def _schema(estate: Estate, dataset: str) -> Schema:
    info = Catalogue(estate).get(dataset)
    if info.schema is None:
        raise NotFoundError(f"dataset {dataset!r} has no schema yet; ingest a version first")
    return Schema.from_dict(info.schema, f"schema of {dataset!r}")


def add_rules(estate: Estate, dataset: str, path: Path, *, principal: str) -> list[Rule]:
    """Check every rule of ``path`` against the dataset's schema, then register them all (or none)."""
    authorize(estate, principal, "quality.rules", dataset=dataset)
    ruleset = load_rules(path, _schema(estate, dataset))
    if not ruleset.rules:
        raise SchemaError(f"{path.name}: holds no rules")
    _check_references(estate, ruleset.rules, path.name)
    stamp = now()
    with estate.session() as session:
        ids = [r.id for r in ruleset.rules]
        session.execute(sa.delete(RuleRow).where(RuleRow.dataset == dataset, RuleRow.rule_id.in_(ids)))
        for rule in ruleset.rules:
            session.add(
                RuleRow(
                    dataset=dataset,
                    rule_id=rule.id,
                    definition=rule.to_dict(),
                    source=path.name,
                    created_at=stamp,
                    created_by=principal,
                )
            )
        session.flush()
        record(
            session,
            estate,
            principal=principal,
            action="quality.rules_add",
            dataset=dataset,
            detail={"rules": ids, "source": path.name},
        )
    return list(ruleset.rules)


def _check_references(estate: Estate, rules: tuple[Rule, ...], source: str) -> None:
    """A rule that looks into another dataset names one the estate holds, with the columns it compares."""
    catalogue = Catalogue(estate)
    for rule in rules:
        if rule.check not in ("reference", "cross_dataset"):
            continue
        other, _, column = (rule.reference or "").partition(".")
        info = catalogue.find(other)
        if info is None or info.schema is None:
            raise SchemaError(f"{source}: rule {rule.id!r}: reference dataset {other!r} is not in the estate")
        names = Schema.from_dict(info.schema, f"schema of {other!r}").names
        for needed in [column] if rule.check == "reference" else list(rule.columns):
            if needed not in names:
                raise SchemaError(f"{source}: rule {rule.id!r}: reference dataset {other!r} has no column {needed!r}")


def remove_rule(estate: Estate, dataset: str, rule_id: str, *, principal: str) -> None:
    authorize(estate, principal, "quality.rules", dataset=dataset)
    with estate.session() as session:
        gone = session.execute(
            sa.delete(RuleRow).where(RuleRow.dataset == dataset, RuleRow.rule_id == rule_id)
        ).rowcount  # type: ignore[attr-defined]
        if not gone:
            known = session.scalars(sa.select(RuleRow.rule_id).where(RuleRow.dataset == dataset)).all()
            raise NotFoundError(
                f"dataset {dataset!r} has no registered rule {rule_id!r} "
                f"(registered: {', '.join(known) or 'none'}; default rules follow the schema)"
            )
        record(
            session, estate, principal=principal, action="quality.rules_remove", dataset=dataset,
            detail={"rules": [rule_id]},
        )  # fmt: skip


def list_rules(estate: Estate, dataset: str, *, principal: str) -> list[dict[str, Any]]:
    """The rules measured on the dataset (defaults and registered); rules hold no personal data, so not audited."""
    authorize(estate, principal, "quality.read", dataset=dataset)
    return [r.to_dict() for r in rules_for(estate, dataset, _schema(estate, dataset))]


def latest_result(
    estate: Estate, dataset: str, *, principal: str, version: int | None = None, purpose: str | None = None
) -> dict[str, Any]:
    """The newest measurement of ``version`` (default: the newest measured version), failing rows' keys included."""

    def fetch(_: Principal) -> Fetched[dict[str, Any]]:
        query = sa.select(ResultRow).where(ResultRow.dataset == dataset)
        if version is not None:
            query = query.where(ResultRow.version == version)
        with estate.session() as session:
            row = session.scalars(query.order_by(ResultRow.version.desc(), ResultRow.id.desc()).limit(1)).first()
            if row is None:
                which = f"version {version} of " if version is not None else ""
                raise NotFoundError(
                    f"{which}dataset {dataset!r} has not been measured; run `joinedup quality measure -d {dataset}`"
                )
            data = _result_dict(row)
        return Fetched(data, dataset=dataset, dataset_version=data["version"], row_count=data["rows"],
                       detail={"what": "results"})  # fmt: skip

    return read_as(estate, principal, "quality.read", datasets=[dataset], fetch=fetch, purpose=purpose)


def history(estate: Estate, dataset: str, *, principal: str, purpose: str | None = None) -> list[dict[str, Any]]:
    """Each measured version (its newest measurement): scores, each rule's metric and target, drift, cost."""

    def fetch(_: Principal) -> Fetched[list[dict[str, Any]]]:
        with estate.session() as session:
            rows = session.scalars(
                sa.select(ResultRow).where(ResultRow.dataset == dataset).order_by(ResultRow.version, ResultRow.id)
            ).all()
            latest = {row.version: row for row in rows}
            data = [_history_entry(latest[v]) for v in sorted(latest)]
        return Fetched(data, dataset=dataset, detail={"what": "history", "versions": len(data)})

    return read_as(estate, principal, "quality.read", datasets=[dataset], fetch=fetch, purpose=purpose)


def estate_results(estate: Estate, *, principal: str, purpose: str | None = None) -> list[dict[str, Any]]:
    """Every dataset's history (for the estate report): a read of each dataset's quality, authorised for each."""
    # Authorised dataset by dataset: without one, a steward's or analyst's grant on any dataset would pass.
    names: list[str | None] = [d.name for d in Catalogue(estate).datasets()]

    def fetch(_: Principal) -> Fetched[list[dict[str, Any]]]:
        with estate.session() as session:
            rows = session.scalars(sa.select(ResultRow).order_by(ResultRow.dataset, ResultRow.version, ResultRow.id))
            latest: dict[str, dict[int, ResultRow]] = {}
            for row in rows:
                latest.setdefault(row.dataset, {})[row.version] = row
            data = [
                {
                    "dataset": name,
                    "latest": _result_dict(versions[max(versions)]),
                    "history": [_history_entry(versions[v]) for v in sorted(versions)],
                }
                for name, versions in sorted(latest.items())
            ]
        return Fetched(data, detail={"what": "estate report", "datasets": [d["dataset"] for d in data]})

    return read_as(estate, principal, "quality.read", datasets=names or [None], fetch=fetch, purpose=purpose)


def list_issues(
    estate: Estate, *, principal: str, dataset: str | None = None, open_only: bool = False
) -> list[dict[str, Any]]:
    """The issue log: one dataset's, or every dataset's (each authorised). Issues hold no row keys."""
    if dataset is not None:
        Catalogue(estate).get(dataset)  # a misspelt name is an error, not an empty log
    names: list[str | None] = [dataset] if dataset is not None else [d.name for d in Catalogue(estate).datasets()]
    for name in names or [None]:
        authorize(estate, principal, "quality.read", dataset=name)
    query = sa.select(IssueRow).order_by(IssueRow.id)
    if dataset is not None:
        query = query.where(IssueRow.dataset == dataset)
    if open_only:
        query = query.where(IssueRow.status == OPEN)
    with estate.session() as session:
        return [issue_dict(row) for row in session.scalars(query)]


def note_issue(estate: Estate, issue_id: int, text: str, *, principal: str) -> dict[str, Any]:
    """Add a note (the action plan, a finding) to an issue."""
    if not text.strip():
        raise SchemaError("the note is empty; say what was found or done")
    with estate.session() as session:
        row = session.get(IssueRow, issue_id)
        dataset = row.dataset if row else None
    if dataset is None:
        raise NotFoundError(f"no quality issue {issue_id}; list them with `joinedup quality issues list`")
    authorize(estate, principal, "quality.issues", dataset=dataset)
    with estate.session() as session:
        row = session.get(IssueRow, issue_id)
        assert row is not None
        row.notes = [*row.notes, {"at": now().isoformat().replace("+00:00", "Z"), "by": principal, "text": text}]
        session.flush()
        # The note's text stays out of the log: it is free text and may name a person.
        record(
            session, estate, principal=principal, action="quality.issue_note", dataset=dataset,
            detail={"issue": issue_id, "rule": row.rule_id},
        )  # fmt: skip
        return issue_dict(row)


def _result_dict(row: ResultRow) -> dict[str, Any]:
    return {
        "dataset": row.dataset,
        "version": row.version,
        "measured_at": row.measured_at,
        "measured_by": row.measured_by,
        "rows": row.rows,
        "scores": row.scores,
        "rules": row.rules,
        "profile": row.profile,
        "drift": row.drift,
        "cost": row.cost,
        "seconds": row.seconds,
    }


def _history_entry(row: ResultRow) -> dict[str, Any]:
    return {
        "version": row.version,
        "measured_at": row.measured_at,
        "rows": row.rows,
        "scores": row.scores,
        "metrics": {r["id"]: {"metric": r["metric"], "target": r["target"], "passed": r["passed"]} for r in row.rules},
        "drift": [d["id"] for d in row.drift],
        "cost": row.cost["total"],
    }
