"""An audit entry as read back: what happened, to what, by whom, and its place in the chain."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from joinedup.audit.canonical import parse_time
from joinedup.audit.models import AuditEntryRow

#: The last part of an action that returns data to the principal (``data.query``,
#: ``quarantine.read``, ``data.export``); who-accessed looks at these for bulk reads.
READ_VERBS = ("read", "query", "export")


def is_read(action: str) -> bool:
    return action.rsplit(".", 1)[-1] in READ_VERBS


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    #: Canonical UTC time text, exactly as hashed.
    at: str
    principal: str
    action: str
    purpose: str | None
    dataset: str | None
    dataset_version: int | None
    columns: tuple[str, ...]
    row_count: int | None
    #: Keyed hashes of the people the entry is about.
    subjects: tuple[str, ...]
    detail: dict[str, Any]
    prev_hash: str
    hash: str
    #: HMAC of ``hash`` under the chain key in ``keys/``; None for entries from before that key.
    mac: str | None = None

    @property
    def when(self) -> datetime:
        return parse_time(self.at)

    def scopes(self) -> list[tuple[str, int]]:
        """Every (dataset, version) the entry read.

        A read of one dataset names it in ``dataset``; a read over several leaves
        ``dataset`` empty and lists them in ``detail["versions"]``.
        """
        if self.dataset is not None:
            return [(self.dataset, self.dataset_version)] if self.dataset_version is not None else []
        versions = self.detail.get("versions")
        return sorted((str(n), int(v)) for n, v in versions.items()) if isinstance(versions, dict) else []

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "principal": self.principal,
            "action": self.action,
            "purpose": self.purpose,
            "dataset": self.dataset,
            "dataset_version": self.dataset_version,
            "columns": list(self.columns),
            "row_count": self.row_count,
            "subjects": list(self.subjects),
            "detail": self.detail,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
            "mac": self.mac,
        }

    @classmethod
    def from_row(cls, row: AuditEntryRow) -> AuditEntry:
        return cls(
            seq=row.seq,
            at=row.at,
            principal=row.principal,
            action=row.action,
            purpose=row.purpose,
            dataset=row.dataset,
            dataset_version=row.dataset_version,
            columns=tuple(json.loads(row.columns)),
            row_count=row.row_count,
            subjects=tuple(json.loads(row.subjects)),
            detail=json.loads(row.detail),
            prev_hash=row.prev_hash,
            hash=row.hash,
            mac=row.mac,
        )
