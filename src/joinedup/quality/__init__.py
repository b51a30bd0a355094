"""Data quality: GDQF rules, set-based measurement, history, issues, drift, cost and reports (docs/quality.md)."""

from joinedup.quality.cost import CostModel, cost_model
from joinedup.quality.measure import (
    Prescan,
    QualityResult,
    measure,
    measure_after_ingest,
    rules_for,
    schema_rules,
)
from joinedup.quality.results import (
    add_rules,
    estate_results,
    history,
    latest_result,
    list_issues,
    list_rules,
    note_issue,
    remove_rule,
)
from joinedup.quality.rules import CHECKS, DIMENSIONS, Rule, RuleSet, default_rules, load_rules, parse_rules

__all__ = [
    "CHECKS",
    "DIMENSIONS",
    "CostModel",
    "Prescan",
    "QualityResult",
    "Rule",
    "RuleSet",
    "add_rules",
    "cost_model",
    "default_rules",
    "estate_results",
    "history",
    "latest_result",
    "list_issues",
    "list_rules",
    "load_rules",
    "measure",
    "measure_after_ingest",
    "note_issue",
    "parse_rules",
    "remove_rule",
    "rules_for",
    "schema_rules",
]
