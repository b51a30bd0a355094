"""The tamper-evident audit log: hash-chained entries, signed checkpoints, verification, queries.

Every read of personal data and every change is an entry. People appear only
as keyed hashes. See docs/audit.md.
"""

from joinedup.audit.canonical import ZERO_HASH, canonical_json, encode_entry
from joinedup.audit.checkpoints import (
    Checkpoint,
    checkpoint,
    export_checkpoint,
    load_checkpoint_file,
)
from joinedup.audit.entry import AuditEntry, is_read
from joinedup.audit.membership import dataset_membership
from joinedup.audit.queries import Access, Membership, ReadScope, WhoAccessed, log, who_accessed
from joinedup.audit.record import record, record_now, release
from joinedup.audit.redact import redact_sql, redact_text
from joinedup.audit.subjects import SUBJECT_KINDS, Subject, subject_hash
from joinedup.audit.verify import Problem, VerifyReport, verify

__all__ = [
    "SUBJECT_KINDS",
    "ZERO_HASH",
    "Access",
    "AuditEntry",
    "Checkpoint",
    "Membership",
    "Problem",
    "ReadScope",
    "Subject",
    "VerifyReport",
    "WhoAccessed",
    "canonical_json",
    "checkpoint",
    "dataset_membership",
    "encode_entry",
    "export_checkpoint",
    "is_read",
    "load_checkpoint_file",
    "log",
    "record",
    "record_now",
    "redact_sql",
    "redact_text",
    "release",
    "subject_hash",
    "verify",
    "who_accessed",
]
