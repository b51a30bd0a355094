"""Reading the log: filtered listings, and who accessed a given person's data.

Who-accessed answers precisely by default: each bulk read is re-run over the
version it read with only the person's rows (:mod:`joinedup.audit.precise`),
and every access gets one basis: ``returned``, ``aggregate``, ``named`` or
``undetermined``; reads that missed the person are left out.

Given a :data:`Membership` function instead, it gives the older upper bound,
with three kinds of evidence:

- ``named``: the entry lists the person's keyed hash among its subjects;
- ``mentioned``: a read returned rows and its SQL or purpose held the person's identifier;
- ``dataset``: a bulk read returned rows from a dataset version that held the
  person (its filter may have left them out).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from joinedup.audit.canonical import canonical_time
from joinedup.audit.entry import READ_VERBS, AuditEntry
from joinedup.audit.models import AuditEntryRow
from joinedup.audit.redact import redact_text
from joinedup.audit.subjects import canonical_identifier, estate_secret, subject_hash
from joinedup.errors import InputError
from joinedup.estate import Estate

DEFAULT_LIMIT = 100


@dataclass(frozen=True)
class ReadScope:
    """One dataset version a read returned rows from; ``part`` is ``table`` or ``quarantine``."""

    dataset: str
    version: int
    part: Literal["table", "quarantine"] = "table"


#: ``membership(scope, kind, canonical_value)``: True when that dataset version
#: held a row whose ``kind`` identifier is ``canonical_value``, False when it did
#: not, None when it cannot tell (the version was purged, the part is unknown).
Membership = Callable[[ReadScope, str, str], bool | None]


@dataclass(frozen=True)
class Access:
    entry: AuditEntry
    #: ``returned``, ``aggregate``, ``named`` or ``undetermined`` (see :mod:`joinedup.audit.precise`);
    #: with a ``membership`` function, the upper bound's ``named``, ``mentioned`` or ``dataset``.
    basis: str
    #: Why an ``undetermined`` read could not be decided.
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        found = {"basis": self.basis, **self.entry.to_dict()}
        if self.reason is not None:
            found["reason"] = self.reason
        return found


#: The order the bases are shown in.
BASES = ("returned", "aggregate", "named", "undetermined", "mentioned", "dataset")


@dataclass
class WhoAccessed:
    kind: str
    accesses: list[Access] = field(default_factory=list)
    #: Upper bound only: bulk reads that may have returned the person but membership could not decide.
    undetermined: list[AuditEntry] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """How many accesses on each basis, in :data:`BASES` order."""
        found = {basis: 0 for basis in BASES if basis in {a.basis for a in self.accesses}}
        for access in self.accesses:
            found[access.basis] += 1
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "counts": self.counts(),
            "accesses": [a.to_dict() for a in self.accesses],
            "undetermined": [e.to_dict() for e in self.undetermined],
        }


def principal_key(name: str) -> str:
    """``name`` folded for comparison: Unicode-normalised (NFKC) and case-folded, so ``Ａlice`` is ``alice``.

    Principals are unique under this key, and ``log(principal=...)`` matches by it.
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def log(
    estate: Estate,
    *,
    since: datetime | None = None,
    principal: str | None = None,
    dataset: str | None = None,
    action: str | None = None,
    limit: int | None = DEFAULT_LIMIT,
) -> list[AuditEntry]:
    """Entries matching every filter given, oldest first; the newest ``limit`` of them.

    Identifiers in ``principal`` and ``dataset`` are redacted as entries store them
    (``okonkwo_9434765919`` matches the stored ``okonkwo_[nhs number]``).
    ``action`` matches exactly, or by prefix when it ends in ``.`` or ``*``
    (``data.`` or ``data.*`` for every data action). ``principal`` matches
    ignoring case and Unicode width, as principal names are compared.
    """
    # Entries store their text redacted, so a filter naming an identifier is redacted the same way to match.
    principal = None if principal is None else redact_text(b"", principal).text
    dataset = None if dataset is None else redact_text(b"", dataset).text
    query = sa.select(AuditEntryRow)
    if since is not None:
        query = query.where(AuditEntryRow.at >= canonical_time(since))
    if principal is not None:
        query = query.where(AuditEntryRow.principal.in_(_spellings(estate, principal)))
    if dataset is not None:
        query = query.where(AuditEntryRow.dataset == dataset)
    if action is not None:
        stem = action.rstrip("*")
        if stem.endswith("."):
            query = query.where(AuditEntryRow.action.startswith(stem, autoescape=True))
        else:
            query = query.where(AuditEntryRow.action == action)
    query = query.order_by(AuditEntryRow.seq.desc())
    if limit is not None:
        query = query.limit(limit)
    with estate.session() as session:
        rows = session.scalars(query).all()
        return [AuditEntry.from_row(row) for row in reversed(rows)]


def _spellings(estate: Estate, principal: str) -> list[str]:
    """The principal names in the log that fold to the same key as ``principal`` (one scan of a narrow column)."""
    wanted = principal_key(principal)
    with estate.engine.connect() as connection:
        names = connection.execute(sa.select(AuditEntryRow.principal).distinct()).scalars()
        return [name for name in names if principal_key(name) == wanted]


def who_accessed(
    estate: Estate,
    kind: str | None = None,
    value: str | None = None,
    membership: Membership | None = None,
    *,
    records: Iterable[tuple[str, Any]] | None = None,
) -> WhoAccessed:
    """Every access to this person's data, each with its basis.

    The person is named by an identifier (``kind`` and ``value``), by
    ``records`` (``(dataset, primary key value)`` pairs a caller already knows,
    e.g. from a linkage person key), or both. Bulk reads are decided precisely
    by re-running their sealed queries (:mod:`joinedup.audit.precise`); given a
    ``membership`` function instead, the answer is the older upper bound (every
    bulk read of a version that held the person, basis ``dataset``).
    """
    if membership is not None:
        if kind is None or value is None:
            raise InputError("the upper bound needs an identifier: give kind and value")
        return _upper_bound(estate, kind, value, membership)
    return _precise(estate, kind, value, records)


def _precise(
    estate: Estate, kind: str | None, value: str | None, records: Iterable[tuple[str, Any]] | None
) -> WhoAccessed:
    from joinedup.audit.precise import UNDETERMINED, UNTOUCHED, BulkRead, Person, decide
    from joinedup.audit.sealed import load_sealed

    known: dict[str, set[str]] = {}
    for dataset, key in records or ():
        known.setdefault(str(dataset), set()).add(str(key))
    if (kind is None or value is None) and not known:
        raise InputError("who-accessed needs a person: an identifier, or their records")
    target = subject_hash(estate_secret(estate), kind, value) if kind is not None and value is not None else None
    canonical = canonical_identifier(kind, value) if kind is not None and value is not None else None
    answer = WhoAccessed(kind or "records")
    erased_from: set[tuple[str, int]] = set()
    mentioned: dict[int, AuditEntry] = {}
    if target is not None:
        for entry in _load(estate, _naming(target)):
            if target in entry.subjects:
                answer.accesses.append(Access(entry, "named"))
                # Its rows are gone from the versions an erasure names: reads of those cannot be re-run.
                erased_from.update((str(d), int(v)) for d, v in entry.detail.get("held_in", []))
            elif (entry.row_count or 0) > 0 and (
                target in entry.detail.get("literals", ()) or target in entry.detail.get("mentions", ())
            ):
                mentioned[entry.seq] = entry
    listed = {a.entry.seq for a in answer.accesses}
    reads = [
        BulkRead(seq, action, tuple(scopes), sealed)
        for seq, action, scopes, sealed in _bulk_reads(estate)
        if seq not in listed and (scopes or seq in mentioned)
    ]
    person = Person(kind, canonical, {d: frozenset(k) for d, k in known.items()})
    verdicts = decide(estate, person, reads, lambda seqs: load_sealed(estate, seqs), erased_from)
    kept = {seq: v for seq, v in verdicts.items() if v.basis != UNTOUCHED}
    # A read whose text named the person is on the list even when it missed their rows.
    named = [seq for seq in mentioned if seq not in kept and seq not in listed]
    entries = {e.seq: e for e in _load_seqs(estate, sorted({*kept, *named}))}
    for seq, verdict in kept.items():
        if seq in mentioned and verdict.basis == UNDETERMINED:
            answer.accesses.append(Access(entries[seq], "named"))
        else:
            answer.accesses.append(Access(entries[seq], verdict.basis, verdict.reason))
    answer.accesses += [Access(entries[seq], "named") for seq in named]
    answer.accesses.sort(key=lambda a: a.entry.seq)
    return answer


def _upper_bound(estate: Estate, kind: str, value: str, membership: Membership) -> WhoAccessed:
    """Every entry that returned (or, for bulk reads, may have returned) this person's data: today's upper bound."""
    target = subject_hash(estate_secret(estate), kind, value)
    canonical = canonical_identifier(kind, value)
    assert canonical is not None  # subject_hash has refused invalid values
    answer = WhoAccessed(kind)
    held_in: set[tuple[str, int]] = set()
    for entry in _load(estate, _naming(target)):
        if target in entry.subjects:
            answer.accesses.append(Access(entry, "named"))
            # An erasure keeps where the person was, so bulk reads stay answerable after their rows are gone.
            held_in.update((str(d), int(v)) for d, v in entry.detail.get("held_in", []))
        elif (entry.row_count or 0) > 0 and (
            target in entry.detail.get("literals", ()) or target in entry.detail.get("mentions", ())
        ):
            answer.accesses.append(Access(entry, "mentioned"))
    listed = {a.entry.seq for a in answer.accesses}
    decided: dict[ReadScope, bool | None] = {}

    def verdict(scope: ReadScope) -> bool | None:
        if scope not in decided:
            if scope.part == "table" and (scope.dataset, scope.version) in held_in:
                decided[scope] = True
            else:
                decided[scope] = membership(scope, kind, canonical)
        return decided[scope]

    matched: list[int] = []
    unsure: list[int] = []
    for seq, action, scopes, _ in _bulk_reads(estate):
        if seq in listed:
            continue
        part: Literal["table", "quarantine"] = "quarantine" if action.startswith("quarantine.") else "table"
        verdicts = [verdict(ReadScope(name, version, part)) for name, version in scopes]
        if True in verdicts:
            matched.append(seq)
        elif None in verdicts:
            unsure.append(seq)
    answer.accesses += [Access(entry, "dataset") for entry in _load_seqs(estate, matched)]
    answer.undetermined = list(_load_seqs(estate, unsure))
    answer.accesses.sort(key=lambda a: a.entry.seq)
    return answer


_READ_ACTION = sa.or_(*(AuditEntryRow.action.endswith("." + verb) for verb in READ_VERBS))


def _naming(target: str) -> sa.ColumnElement[bool]:
    """Entries whose subjects, literals or mentions hold the person's hash (a text search: hashes are hex)."""
    return sa.or_(AuditEntryRow.subjects.contains(target), AuditEntryRow.detail.contains(target))


def _load(estate: Estate, where: sa.ColumnElement[bool]) -> Iterator[AuditEntry]:
    with estate.session() as session:
        query = sa.select(AuditEntryRow).where(where).order_by(AuditEntryRow.seq)
        for row in session.scalars(query.execution_options(yield_per=5_000)):
            yield AuditEntry.from_row(row)


def _load_seqs(estate: Estate, seqs: list[int]) -> Iterator[AuditEntry]:
    # Chunked: drivers cap the number of parameters in one statement.
    for start in range(0, len(seqs), 5_000):
        yield from _load(estate, AuditEntryRow.seq.in_(seqs[start : start + 5_000]))


def _bulk_reads(estate: Estate) -> Iterator[tuple[int, str, list[tuple[str, int]], bool]]:
    """(seq, action, dataset versions read, sealed?) of every read that returned rows without listing its subjects.

    Only the few columns needed are read, and the detail is parsed only for a
    read over several datasets (which leaves ``dataset`` empty and lists them in
    ``detail["versions"]``), so a log of millions of queries stays quick to search.
    """
    query = (
        sa.select(
            AuditEntryRow.seq,
            AuditEntryRow.action,
            AuditEntryRow.dataset,
            AuditEntryRow.dataset_version,
            AuditEntryRow.detail,
        )
        .where(_READ_ACTION, AuditEntryRow.row_count > 0, AuditEntryRow.subjects == "[]")
        .order_by(AuditEntryRow.seq)
    )
    with estate.engine.connect() as connection:
        for seq, action, dataset, version, detail in connection.execution_options(
            stream_results=True, yield_per=20_000
        ).execute(query):
            sealed = '"sealed":"' in detail
            if dataset is not None:
                yield seq, action, [(dataset, version)] if version is not None else [], sealed
            elif '"versions"' in detail:
                versions = json.loads(detail).get("versions")
                if isinstance(versions, dict):
                    yield seq, action, sorted((str(n), int(v)) for n, v in versions.items()), sealed
