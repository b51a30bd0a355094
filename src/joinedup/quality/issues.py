"""GDQF's issue log: a rule below target opens an issue; a later version that meets the target closes it.

Drift flags are issues too (rule ``drift.<metric>.<column>``), closing when the
metric is back near its history. Notes record the action plan.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from joinedup.estate.db import now
from joinedup.quality.models import IssueRow

OPEN, CLOSED = "open", "closed"


def update_issues(
    session: Session, dataset: str, version: int, results: list[dict[str, Any]], drift: list[dict[str, Any]]
) -> tuple[list[int], list[int]]:
    """Open, carry or close the dataset's issues after measuring its current version; (opened, closed) ids."""
    open_rows = {
        row.rule_id: row
        for row in session.scalars(sa.select(IssueRow).where(IssueRow.dataset == dataset, IssueRow.status == OPEN))
    }
    failing: dict[str, dict[str, Any]] = {}
    for result in results:
        if result.get("passed") is False:
            failing[result["id"]] = {
                "dimension": result["dimension"],
                "importance": result["importance"],
                "owner": result.get("owner"),
                "impact": {
                    "metric": result["metric"],
                    "target": result["target"],
                    "rows_failing": result["rows_failing"],
                    "rows_checked": result["rows_checked"],
                },
            }
    for flag in drift:
        failing[flag["id"]] = {
            "dimension": "drift",
            "importance": "medium",
            "owner": None,
            "impact": {"metric": flag["metric"], "value": flag["value"], "expected": flag["expected"]},
        }
    opened: list[int] = []
    closed: list[int] = []
    stamp = now()
    for rule_id, found in failing.items():
        row = open_rows.get(rule_id)
        if row is None:
            row = IssueRow(
                dataset=dataset,
                rule_id=rule_id,
                dimension=found["dimension"],
                importance=found["importance"],
                owner=found["owner"],
                status=OPEN,
                first_version=version,
                last_version=version,
                impact=found["impact"],
                notes=[],
                opened_at=stamp,
            )
            session.add(row)
            session.flush()
            opened.append(row.id)
        else:
            row.last_version = version
            row.impact = found["impact"]
    measured = {r["id"] for r in results if r.get("passed") is not None} | {"drift"}
    for rule_id, row in open_rows.items():
        gone = rule_id not in failing and (rule_id in measured or rule_id.startswith("drift."))
        if gone:
            row.status = CLOSED
            row.closed_version = version
            row.closed_at = stamp
            closed.append(row.id)
    return opened, closed


def issue_dict(row: IssueRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "dataset": row.dataset,
        "rule": row.rule_id,
        "dimension": row.dimension,
        "importance": row.importance,
        "owner": row.owner,
        "status": row.status,
        "first_version": row.first_version,
        "last_version": row.last_version,
        "closed_version": row.closed_version,
        "impact": row.impact,
        "notes": row.notes,
        "opened_at": row.opened_at,
        "closed_at": row.closed_at,
    }
