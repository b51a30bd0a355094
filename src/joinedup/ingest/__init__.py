"""Ingest: readers, validation and standardisation, quarantine, versions."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from joinedup.ingest.pipeline import IngestResult, ingest

__all__ = ["IngestResult", "ingest"]


def __getattr__(name: str) -> Any:
    # The pipeline (DuckDB, Delta, the catalogue) loads when first used, not with every
    # module of the package: the CLI reads the list of formats without it.
    if name in __all__:
        return getattr(importlib.import_module("joinedup.ingest.pipeline"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
