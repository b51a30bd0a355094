"""Record linkage: Splink on DuckDB, UK comparisons, persistent person and business keys (docs/linkage.md)."""
