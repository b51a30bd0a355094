"""People in the audit log, recorded only as keyed hashes of their identifiers.

``subject_hash`` is HMAC-SHA256 under the estate's secret over
``kind + ":" + canonical value``. Without the secret nobody can test a guessed
NHS number against the log; with it, "who accessed this person?" is one
comparison. The canonical form comes from :mod:`joinedup.standards`, so
``943 476 5919`` and ``9434765919`` are the same person.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from joinedup.audit.keys import key_file, read_cached
from joinedup.errors import InputError
from joinedup.estate import Estate
from joinedup.estate.estate import SECRET_FILE
from joinedup.standards import STANDARD_TYPES

#: Identifier kinds a person can be looked up by. ``person_key`` is the estate's
#: own key from linkage; it has no check digit, so any non-blank text is one.
SUBJECT_KINDS = ("nhs_number", "ni_number", "person_key")


def estate_secret(estate: Estate) -> bytes:
    """``estate.secret``, read again only when the file changes (every append needs it)."""
    found = read_cached(key_file(estate.root, SECRET_FILE), lambda _: estate.secret)
    return estate.secret if found is None else found  # a missing file raises the estate's own error


@dataclass(frozen=True)
class Subject:
    """A person an entry is about, named by one identifier; only its hash is ever stored."""

    kind: str
    value: str

    def __repr__(self) -> str:
        # Keeps the raw identifier out of tracebacks and logs.
        return f"Subject(kind={self.kind!r}, value=<hidden>)"


def canonical_identifier(kind: str, value: str) -> str | None:
    """The canonical text of ``value`` as a ``kind``, or None when it is not a valid one."""
    if kind not in SUBJECT_KINDS:
        raise InputError(f"unknown identifier kind {kind!r} (kinds: {', '.join(SUBJECT_KINDS)})")
    rule = STANDARD_TYPES.get(kind)
    if rule is None:
        text = value.strip()
        return text or None
    return rule.reference(value)


@functools.lru_cache(maxsize=16384)
def subject_hash(secret: bytes, kind: str, value: str) -> str:
    """The keyed hash that stands for this person in the log (64 hex digits).

    Remembered for the most recent people: an API read hashes the person it returns, and checking the identifier
    against its standard costs more than the hash; a value that is not valid raises, and is not remembered.
    """
    canonical = canonical_identifier(kind, value)
    if canonical is None:
        rule = STANDARD_TYPES.get(kind)
        expected = f" ({rule.expected})" if rule else ""
        # The value itself stays out of the message: errors get logged.
        raise InputError(f"not a valid {kind.replace('_', ' ')}{expected}")
    return _keyed(secret, kind, canonical)


def candidate_hashes(secret: bytes, text: str) -> list[str]:
    """The hash of ``text`` under every kind it is valid as (for literals whose column is unknown)."""
    found = []
    for kind in SUBJECT_KINDS:
        canonical = canonical_identifier(kind, text)
        if canonical is not None:
            found.append(_keyed(secret, kind, canonical))
    return found


def hash_subjects(secret: bytes, subjects: Iterable[Subject]) -> list[str]:
    return [subject_hash(secret, s.kind, s.value) for s in subjects]


def _keyed(secret: bytes, kind: str, canonical: str) -> str:
    return hmac.new(secret, f"{kind}:{canonical}".encode(), hashlib.sha256).hexdigest()
