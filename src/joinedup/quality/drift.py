"""Drift: a metric far from its own history, flagged even where nobody set a target (as Deequ and Soda do).

Compared with the median of up to :data:`WINDOW` earlier versions: the row
count or a column's distinct count moving by more than half, a column's share
of missing values rising by more than :data:`NULL_RISE`, or a numeric column's
mean moving by more than half of its earlier magnitude.
"""

from __future__ import annotations

from statistics import median
from typing import Any

WINDOW = 5
RATIO = 0.5
NULL_RISE = 0.2


def detect(profile: dict[str, Any], history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flags for ``profile`` against earlier profiles (oldest first); empty without history."""
    earlier = history[-WINDOW:]
    if not earlier:
        return []
    flags: list[dict[str, Any]] = []
    rows = profile["rows"]
    past_rows = median(p["rows"] for p in earlier)
    if _moved(rows, past_rows):
        flags.append(_flag("row_count", None, rows, past_rows))
    for column, now in profile["columns"].items():
        past = [p["columns"][column] for p in earlier if column in p.get("columns", {})]
        if not past:
            continue
        null_share = median(p["null_share"] for p in past)
        if now["null_share"] - null_share > NULL_RISE:
            flags.append(_flag("null_share", column, now["null_share"], null_share))
        distinct = median(p["distinct"] for p in past)
        if distinct >= 10 and _moved(now["distinct"], distinct):
            flags.append(_flag("distinct_count", column, now["distinct"], distinct))
        means = [p["mean"] for p in past if p.get("mean") is not None]
        if now.get("mean") is not None and means:
            mean = median(means)
            if abs(now["mean"] - mean) > RATIO * max(abs(mean), 1e-9):
                flags.append(_flag("mean", column, now["mean"], mean))
    return flags


def _moved(now: float, past: float) -> bool:
    return past > 0 and abs(now - past) > RATIO * past


def _flag(metric: str, column: str | None, value: float, expected: float) -> dict[str, Any]:
    name = metric if column is None else f"{metric}.{column}"
    return {"id": f"drift.{name}", "metric": metric, "column": column, "value": value, "expected": expected}
