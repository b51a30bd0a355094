"""The canonical encoding an entry's hash is taken over.

An entry is hashed as one JSON object holding every field except ``hash``: keys
sorted, no spaces, UTF-8, no ASCII escaping. That is exactly
``json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``,
so anyone can re-check the chain with a few lines of their own code. Lists and
the detail object are stored as that same canonical JSON text, which lets
:func:`encode_entry` splice them in as stored instead of parsing them again:
verifying a million entries stays a matter of seconds.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

#: The ``prev_hash`` of the first entry.
ZERO_HASH = "0" * 64


#: One encoder for every entry: ``json.dumps`` with these options builds a new one per call (it showed in profiles).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> str:
    """``value`` as canonical JSON text (sorted keys, compact, non-ASCII kept, no NaN)."""
    return _CANONICAL.encode(value)


def canonical_time(moment: datetime) -> str:
    """A UTC instant as fixed-width ISO 8601 text, e.g. ``2026-01-02T03:04:05.000006Z``.

    Fixed width makes text order the same as time order, so ``--since`` is a
    plain comparison on the stored text.
    """
    if moment.tzinfo is None:
        raise ValueError("naive datetime given to the audit log; use datetime.now(UTC)")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def _int(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def encode_entry(
    *,
    seq: int,
    at: str,
    principal: str,
    action: str,
    purpose: str | None,
    dataset: str | None,
    dataset_version: int | None,
    columns_json: str,
    row_count: int | None,
    subjects_json: str,
    detail_json: str,
    prev_hash: str,
) -> bytes:
    """The bytes an entry's hash covers; the ``*_json`` arguments are canonical JSON text as stored."""
    return (
        f'{{"action":{_text(action)},"at":{_text(at)},"columns":{columns_json},'
        f'"dataset":{_text(dataset)},"dataset_version":{_int(dataset_version)},'
        f'"detail":{detail_json},"prev_hash":{_text(prev_hash)},"principal":{_text(principal)},'
        f'"purpose":{_text(purpose)},"row_count":{_int(row_count)},"seq":{_int(seq)},'
        f'"subjects":{subjects_json}}}'
    ).encode()


def entry_hash(encoded: bytes) -> str:
    return hashlib.sha256(encoded).hexdigest()
