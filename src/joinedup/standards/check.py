"""Check one value against a standard type, exactly as ingest would."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from joinedup.errors import NotFoundError
from joinedup.standards.rules import STANDARD_TYPES
from joinedup.standards.sql import install_macros


@dataclass
class CheckResult:
    type: str
    value: str
    valid: bool
    canonical: str | None
    expected: str


def check(type_name: str, value: str) -> CheckResult:
    """Run ``value`` through the type's SQL macro (not the Python reference), so the answer is ingest's."""
    rule = STANDARD_TYPES.get(type_name)
    if rule is None:
        raise NotFoundError(f"{type_name!r} is not a standard type (types: {', '.join(STANDARD_TYPES)})")
    con = duckdb.connect(":memory:")
    try:
        install_macros(con, only=[rule.name])
        row = con.execute(f"SELECT {rule.macro}(CAST(? AS VARCHAR))", [value]).fetchone()
    finally:
        con.close()
    canonical = None if row is None else row[0]
    return CheckResult(
        type=rule.name, value=value, valid=canonical is not None, canonical=canonical, expected=rule.expected
    )
