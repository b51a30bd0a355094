"""Dataset schemas (Frictionless Table Schema + UK types), loading and inference."""

from joinedup.schema.model import (
    CATEGORIES,
    TYPES,
    Constraints,
    Field,
    Schema,
    dump_descriptor,
    dump_schema,
    load_schema,
    parse_schema,
)
from joinedup.schema.table_schema import to_table_schema

__all__ = [
    "CATEGORIES",
    "TYPES",
    "Constraints",
    "Field",
    "Schema",
    "dump_descriptor",
    "dump_schema",
    "load_schema",
    "parse_schema",
    "to_table_schema",
]
