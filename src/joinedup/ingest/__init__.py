"""Ingest: readers, validation and standardisation, quarantine, versions."""

from joinedup.ingest.pipeline import IngestResult, ingest

__all__ = ["IngestResult", "ingest"]
