"""Storage: Delta Lake tables for data and quarantine, DuckDB connections, read-only queries."""
