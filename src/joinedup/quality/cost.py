"""The estimated cost of poor quality, always shown with the assumptions it rests on.

Settings live in ``joinedup.toml`` under ``[quality]``; any left out take the
defaults below (a planning figure, not a measurement: each failing record of a
rule costs someone the stated minutes to find and put right).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from joinedup.errors import EstateError
from joinedup.estate import Estate

SECTION = "quality"


@dataclass(frozen=True)
class CostModel:
    #: Pounds per day of the staff who put records right.
    day_rate: float = 400.0
    hours_per_day: float = 7.4
    #: Minutes to investigate and correct one failing record, by the rule's importance.
    minutes_high: float = 15.0
    minutes_medium: float = 5.0
    minutes_low: float = 1.0
    #: Minutes to resolve one quarantined row (read the reason, fix the source, reload).
    minutes_quarantined: float = 10.0
    currency: str = "GBP"

    def minutes_for(self, importance: str) -> float:
        return float(getattr(self, f"minutes_{importance}"))

    def pounds(self, minutes: float) -> float:
        return round(minutes / 60.0 / self.hours_per_day * self.day_rate, 2)

    def assumptions(self) -> dict[str, Any]:
        return asdict(self)


_KEYS = {f"cost_{name}": name for name in CostModel.__dataclass_fields__ if name != "currency"}


def cost_model(estate: Estate) -> CostModel:
    """``[quality] cost_day_rate``, ``cost_minutes_high`` … from joinedup.toml, else the defaults."""
    section = estate.config.extra.get(SECTION, {})
    values: dict[str, Any] = {}
    for key, value in section.items():
        if key == "cost_currency":
            values["currency"] = str(value)
            continue
        if not key.startswith("cost_"):
            continue
        if key not in _KEYS:
            raise EstateError(f"joinedup.toml: [quality] {key}: unknown setting (known: {', '.join(sorted(_KEYS))})")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            # TOML has nan and inf: an infinite cost is no estimate, and JSON cannot hold it.
            raise EstateError(f"joinedup.toml: [quality] {key} must be a number of at least 0, not {value!r}")
        values[_KEYS[key]] = float(value)
    if values.get("hours_per_day") == 0:
        raise EstateError("joinedup.toml: [quality] cost_hours_per_day must be more than 0")
    return CostModel(**values)


def estimate(model: CostModel, rules: list[dict[str, Any]], quarantined: int) -> dict[str, Any]:
    """The cost of one version's failing records and quarantined rows."""
    minutes = 0.0
    by_rule: dict[str, float] = {}
    for result in rules:
        if result.get("check") == "quarantine":
            continue
        spent = (result.get("rows_failing") or 0) * model.minutes_for(result["importance"])
        if spent:
            by_rule[result["id"]] = model.pounds(spent)
        minutes += spent
    quarantine_minutes = quarantined * model.minutes_quarantined
    total = minutes + quarantine_minutes
    return {
        "total": model.pounds(total),
        "failing_records": model.pounds(minutes),
        "quarantined_rows": model.pounds(quarantine_minutes),
        "staff_days": round(total / 60.0 / model.hours_per_day, 2),
        "by_rule": by_rule,
        "currency": model.currency,
        "assumptions": {
            **model.assumptions(),
            "basis": "each failing record of each rule, and each quarantined row, takes the stated minutes "
            "to put right; a record failing two rules counts twice",
        },
    }
