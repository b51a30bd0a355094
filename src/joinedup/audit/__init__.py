"""The tamper-evident audit log: keyed hash-chained entries, signed checkpoints, verification, queries.

Every read of personal data and every change is an entry. People appear only
as keyed hashes. See docs/audit.md. Only what other layers use is exported here;
tests of the internals import the modules themselves.
"""

from joinedup.audit.entry import AuditEntry
from joinedup.audit.group import GroupCommitter
from joinedup.audit.membership import dataset_membership
from joinedup.audit.queries import ReadScope, log, principal_key, who_accessed
from joinedup.audit.record import record, record_now, release
from joinedup.audit.redact import contains_identifier, opaque_id
from joinedup.audit.sealed import forget_sealed, sealed_texts
from joinedup.audit.signing import checkpoint, export_checkpoint
from joinedup.audit.subjects import Subject
from joinedup.audit.verify import verify

__all__ = [
    "AuditEntry",
    "GroupCommitter",
    "ReadScope",
    "Subject",
    "checkpoint",
    "contains_identifier",
    "dataset_membership",
    "export_checkpoint",
    "forget_sealed",
    "log",
    "opaque_id",
    "principal_key",
    "record",
    "record_now",
    "release",
    "sealed_texts",
    "verify",
    "who_accessed",
]
