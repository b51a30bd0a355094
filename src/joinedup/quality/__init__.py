"""Data quality: GDQF rules, set-based measurement, history, issues, drift, cost and reports (docs/quality.md)."""
