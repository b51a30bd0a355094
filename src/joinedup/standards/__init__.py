"""UK identifier and format rules: DuckDB SQL macros for the fast path, a Python reference for humans and tests."""

from joinedup.standards.check import CheckResult, check
from joinedup.standards.rules import STANDARD_TYPES, UK_TYPES, StandardType
from joinedup.standards.sql import install_macros, iso_datetime_in_zone, local_to_utc, trimmed_macro

__all__ = [
    "STANDARD_TYPES",
    "UK_TYPES",
    "CheckResult",
    "StandardType",
    "check",
    "install_macros",
    "iso_datetime_in_zone",
    "local_to_utc",
    "trimmed_macro",
]
