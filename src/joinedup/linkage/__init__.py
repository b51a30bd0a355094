"""Record linkage: one person (or business), one persistent key, across every dataset.

Splink (Fellegi–Sunter) on DuckDB with UK-aware comparisons, name variants,
a household guard, one-to-one constraints, persistent random keys, clerical
review and evaluation. See docs/linkage.md.
"""

from joinedup.linkage.records import erase_records, keys_for_records, record_ids, records_for_key, rows_for_ids

__all__ = ["erase_records", "keys_for_records", "record_ids", "records_for_key", "rows_for_ids"]
