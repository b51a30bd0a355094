"""Checking the audit log: every hash, every link, every signature.

The chain is read in sequence order as a stream (a million entries never sit in
memory at once). What each tampering looks like:

- an entry edited in place: its contents no longer give its stored hash;
- an entry edited and re-hashed: the next entry recorded a different hash for it;
- an entry deleted: a gap in the sequence numbers;
- entries swapped or reordered: each moved entry's hash covers its old seq;
- an entry added or re-hashed without ``keys/``: its MAC does not match;
- the tail cut off: the head row (whose MAC no longer matches), a stored
  checkpoint, the checkpoint kept in ``keys/`` or an exported checkpoint
  vouches for a seq the log no longer reaches;
- stored checkpoints deleted: one is due every ``checkpoint_every`` entries, and
  that setting is read from the log itself, not from ``joinedup.toml``.

A forger who also holds ``keys/`` can rewrite and re-sign everything; only a
checkpoint exported to somewhere they cannot reach catches them, which is why
exporting one regularly matters.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from joinedup.audit.canonical import ZERO_HASH, encode_entry, entry_hash
from joinedup.audit.checkpoints import (
    DEFAULT_INTERVAL,
    Checkpoint,
    checkpoint_interval,
    interval_problem,
    kept_checkpoint,
    load_checkpoint_file,
)
from joinedup.audit.keys import (
    PRIVATE_KEY_FILE,
    ChainKey,
    chain_key,
    entry_mac,
    public_key_hex,
    verifying_key,
)
from joinedup.audit.models import AuditCheckpointRow
from joinedup.estate import Estate

_STREAM = sa.text(
    "SELECT seq, at, principal, action, purpose, dataset, dataset_version, columns, row_count,"
    " subjects, detail, prev_hash, hash, mac FROM audit_entries WHERE seq > :after AND seq <= :upto ORDER BY seq"
)
_HEAD = sa.text("SELECT seq, hash, mac, checkpoint_every FROM audit_head WHERE id = 1")
#: The entry that records a change of ``[audit] checkpoint_every`` (detail: the new and previous values).
SETTINGS_ACTION = "audit.settings"
#: The entry an append writes first when it finds the head set outside joinedup (detail: the head's seq).
TAMPERING_ACTION = "audit.tampering"
#: The entry that records sealed query texts destroyed to forget a person (detail: their seqs).
SEALED_FORGET_ACTION = "audit.sealed_forget"
_SEALED = sa.text("SELECT seq, sealed FROM audit_sealed ORDER BY seq")
_NO_END = 2**62
_BATCH = 20_000


@dataclass(frozen=True)
class Problem:
    #: The first sequence number affected, or None for a problem not tied to one (a bad signature).
    seq: int | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "message": self.message}


@dataclass
class VerifyReport:
    entries: int = 0
    last_seq: int = 0
    last_hash: str = ZERO_HASH
    #: Stored checkpoints whose signature and hash were checked.
    checkpoints: int = 0
    #: The exported checkpoint checked, if one was given.
    checkpoint_file: Checkpoint | None = None
    problems: list[Problem] = field(default_factory=list)
    #: Things worth saying that are not tampering (a bad setting in joinedup.toml).
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_bad_seq(self) -> int | None:
        return min((p.seq for p in self.problems if p.seq is not None), default=None)

    @property
    def problem(self) -> str | None:
        """The one line to show: the earliest problem in the chain."""
        if not self.problems:
            return None
        return sorted(self.problems, key=lambda p: (p.seq is None, p.seq or 0))[0].message

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "checkpoints_checked": self.checkpoints,
            "checkpoint_file": None
            if self.checkpoint_file is None
            else {"seq": self.checkpoint_file.seq, "hash": self.checkpoint_file.hash, "at": self.checkpoint_file.at},
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
            "problems": [p.to_dict() for p in sorted(self.problems, key=lambda p: (p.seq is None, p.seq or 0))],
            "notes": self.notes,
            "seconds": self.seconds,
        }


def verify(
    estate: Estate, checkpoint_file: Path | Checkpoint | None = None, *, max_problems: int = 100
) -> VerifyReport:
    """Recompute the whole chain and check every checkpoint; the report names the first bad seq."""
    started = time.perf_counter()
    external = load_checkpoint_file(checkpoint_file) if isinstance(checkpoint_file, Path) else checkpoint_file
    report = VerifyReport(checkpoint_file=external)
    key = chain_key(estate)
    kept = kept_checkpoint(estate)
    trusted = verifying_key(estate)
    trusted_hex = public_key_hex(trusted) if trusted is not None else None
    with estate.engine.connect() as conn:
        # Head, checkpoints, head again, then the entries: each can only have grown since
        # the one before was read, so concurrent appends never look like tampering. A
        # checkpoint is expected only up to the first head read: entries up to there were
        # committed, with their checkpoints, before the checkpoints were read.
        # Someone who can write the catalogue can drop its tables too: verify reports that rather than failing.
        tables = _missing_tables(conn)
        for table in tables:
            report.problems.append(
                Problem(None, f"the catalogue's {table} table is missing: the log's tables were tampered with")
            )
        has_head = "audit_head" not in tables
        committed = conn.execute(_HEAD).one_or_none() if has_head else None
        stored = (
            [Checkpoint.from_row(row) for row in conn.execute(sa.select(AuditCheckpointRow.__table__))]
            if "audit_checkpoints" not in tables
            else []
        )
        head_before = conn.execute(_HEAD).one_or_none() if has_head else None
        wanted: dict[int, list[str]] = defaultdict(list)
        for made in [*stored, *(c for c in (external, kept) if c is not None)]:
            wanted[made.seq].append(made.hash)
        signed = {
            c.seq: c.hash
            for c in (*([kept] if kept else []), *stored)
            if c.public_key == trusted_hex and c.signature_valid()
        }
        signed_stored = {c.seq for c in stored if c.seq in signed and c.hash == signed[c.seq]}
        expect_upto = committed.seq if committed is not None else 0
        walk = _Walk(report, key, expect_upto=expect_upto, max_problems=max_problems)
        # A checkpoint is signed only after the MACs since the one before were checked, so
        # up to the newest one this estate signed the plain chain is proof enough.
        walk.vouched = max(signed, default=0)
        found = walk.run(conn, set(wanted)) if "audit_entries" not in tables else {}
        if walk.vouched and found.get(walk.vouched) != signed[walk.vouched] and "audit_entries" not in tables:
            # It no longer matches: walk again checking every MAC, to name the first entry forged.
            report.entries, report.problems = 0, report.problems[: len(tables)]  # keep the missing tables
            walk = _Walk(report, key, expect_upto=expect_upto, max_problems=max_problems)
            found = walk.run(conn, set(wanted))
        head_after = conn.execute(_HEAD).one_or_none() if has_head else None
        if "audit_entries" not in tables:
            _check_sealed(report, conn, walk, head_before.seq if head_before is not None else 0)
    if has_head:
        _check_head(report, head_before, head_after, found)
    for made in stored:
        report.checkpoints += 1
        _check_checkpoint(report, made, found, trusted_hex, "a stored checkpoint")
    if key is None:
        # An unkeyed log records no interval; a bad setting falls back to the default rather than stopping verify.
        _check_coverage(report, stored, DEFAULT_INTERVAL if interval_problem(estate) else checkpoint_interval(estate))
    else:
        _check_head_mac(report, key, head_after)
        _check_due(report, walk.due, signed_stored, estate)
    if kept is not None:
        _check_checkpoint(report, kept, found, trusted_hex, "the checkpoint kept in keys/")
    if external is not None:
        if external.estate != estate.config.name:
            report.problems.append(
                Problem(None, f"the checkpoint file is for estate {external.estate!r}, not {estate.config.name!r}")
            )
        _check_checkpoint(report, external, found, trusted_hex, "the checkpoint file")
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def chain_problem(conn: sa.Connection, key: ChainKey | None, since: Checkpoint | None, upto: int) -> str | None:
    """The first problem in the entries after ``since`` up to ``upto``, read through ``conn``; None when they verify.

    Checked before a checkpoint is signed, so a checkpoint never vouches for a
    chain that does not follow on from the one before.
    """
    report = VerifyReport()
    walk = _Walk(report, key, expect_upto=0, max_problems=1)
    walk.run(conn, set(), since.seq if since else 0, since.hash if since else ZERO_HASH, upto)
    if report.ok and report.last_seq != upto:
        report.problems.append(
            Problem(report.last_seq + 1, f"the log ends at seq {report.last_seq}, not at seq {upto}")
        )
    return report.problem


class _Walk:
    """One pass over the entries in seq order: hashes, links, MACs, and the checkpoints falling due."""

    def __init__(self, report: VerifyReport, key: ChainKey | None, *, expect_upto: int, max_problems: int) -> None:
        self.report = report
        self.key = key
        self.expect_upto = expect_upto
        self.max_problems = max_problems
        #: Seqs at which a checkpoint must have been signed (entries written with the chain key only).
        self.due: list[int] = []
        #: The newest seq a checkpoint signed by this estate vouches for: MACs are checked after it.
        self.vouched = 0
        #: seq → the commitment to its sealed query text, for entries that have one.
        self.sealed: dict[int, str] = {}
        #: Seqs whose sealed text an audited ``audit.sealed_forget`` destroyed.
        self.forgotten: set[int] = set()

    def run(
        self, conn: sa.Connection, wanted: set[int], after: int = 0, after_hash: str = ZERO_HASH, upto: int = _NO_END
    ) -> dict[int, str]:
        """Check every entry and link; returns the stored hash at each seq in ``wanted``."""
        report, key, problems, due = self.report, self.key, self.report.problems, self.due
        found: dict[int, str] = {}
        last_seq, last_hash = after, after_hash
        secret = key.secret if key else b""
        from_seq = key.from_seq if key else _NO_END
        mac_from = max(from_seq, self.vouched + 1)
        interval = key.checkpoint_every if key else 0
        if key is not None and 1 < from_seq <= self.expect_upto and after < from_seq - 1:
            due.append(from_seq - 1)  # the checkpoint that vouches for the entries written before the key
        params = {"after": after, "upto": upto}
        # Options for this statement only: the connection may be an append's, which must not stream.
        rows = conn.execute(_STREAM, params, execution_options={"stream_results": True, "yield_per": _BATCH})
        for (
            seq,
            at,
            principal,
            action,
            purpose,
            dataset,
            version,
            columns,
            row_count,
            subjects,
            detail,
            prev_hash,
            stored_hash,
            mac,
        ) in rows:
            report.entries += 1
            gap = seq != last_seq + 1
            if gap:
                first_missing = last_seq + 1
                span = (
                    f"seq {first_missing} is" if seq == first_missing + 1 else f"seqs {first_missing} to {seq - 1} are"
                )
                problems.append(
                    Problem(
                        first_missing, f"{span} missing: the log jumps from {last_seq} to {seq} (entries were deleted)"
                    )
                )
            try:
                computed = entry_hash(
                    encode_entry(
                        seq=seq, at=at, principal=principal, action=action, purpose=purpose, dataset=dataset,
                        dataset_version=version, columns_json=columns, row_count=row_count,
                        subjects_json=subjects, detail_json=detail, prev_hash=prev_hash,
                    )
                )  # fmt: skip
            except (TypeError, ValueError, UnicodeEncodeError):
                computed = None
            if computed != stored_hash:
                problems.append(
                    Problem(
                        seq,
                        f"seq {seq} does not match its hash: it was changed "
                        "after it was written (or moved from another position)",
                    )
                )
            elif not gap and prev_hash != last_hash:
                problems.append(
                    Problem(
                        last_seq,
                        f"seq {last_seq} is not the entry seq {seq} was "
                        "chained to: it was rewritten, replaced or reordered",
                    )
                    if last_seq
                    else Problem(seq, f"seq {seq} should start the chain with a zero previous hash but does not")
                )
            elif seq >= mac_from and (mac is None or not hmac.compare_digest(mac, entry_mac(secret, stored_hash))):
                problems.append(
                    Problem(
                        seq,
                        f"seq {seq} does not carry the chain key's MAC: it was "
                        "written or re-hashed outside joinedup, without keys/",
                    )
                )
            if seq >= from_seq:
                if action == SETTINGS_ACTION:
                    interval = _interval_set(detail, interval)
                    if seq <= self.expect_upto and _signed_at_change(detail):
                        due.append(seq)  # a change is signed for at once, which bounds what can be cut after it
                elif action == TAMPERING_ACTION:
                    problems.append(
                        Problem(
                            seq,
                            f"seq {seq} records that the log's head had been set outside joinedup "
                            "when it was appended to: entries before it may have been removed",
                        )
                    )
                if seq <= self.expect_upto and seq % interval == 0:
                    due.append(seq)
            if '"sealed":"' in detail:
                self._note_sealed(seq, detail)
            elif action == SEALED_FORGET_ACTION:
                self._note_forgotten(detail)
            if seq in wanted:
                found[seq] = stored_hash
            last_seq, last_hash = seq, stored_hash
            if len(problems) >= self.max_problems:
                problems.append(Problem(None, f"stopped after {self.max_problems} problems"))
                break
        report.last_seq, report.last_hash = last_seq, last_hash
        return found

    def _note_sealed(self, seq: int, detail: str) -> None:
        try:
            made = json.loads(detail).get("sealed")
        except (ValueError, AttributeError):
            return
        if isinstance(made, str):
            self.sealed[seq] = made

    def _note_forgotten(self, detail: str) -> None:
        try:
            found = json.loads(detail)
            seqs, resealed = found.get("seqs", []), found.get("resealed", {})
        except (ValueError, AttributeError):
            return
        self.forgotten.update(s for s in seqs if isinstance(s, int))
        if isinstance(resealed, dict):
            # Sealed again without the forgotten person's literals: the newer commitment is the one to match.
            self.sealed.update({int(k): v for k, v in resealed.items() if str(k).isdigit() and isinstance(v, str)})


def _check_sealed(report: VerifyReport, conn: sa.Connection, walk: _Walk, upto: int) -> None:
    """Every sealed query text matches the commitment its entry holds; a missing one was forgotten on the record.

    Texts for entries past ``upto`` (appended while verify ran) are left for next time.
    """
    if not sa.inspect(conn).has_table("audit_sealed"):
        if walk.sealed:
            report.problems.append(Problem(None, "the catalogue's audit_sealed table is missing: it was tampered with"))
        return
    unseen = {seq for seq in walk.sealed if seq <= upto}
    problems = report.problems
    for seq, sealed in conn.execute(_SEALED, execution_options={"stream_results": True, "yield_per": _BATCH}):
        if seq > upto:
            continue
        expected = walk.sealed.get(seq)
        unseen.discard(seq)
        if expected is None:
            problems.append(Problem(seq, f"seq {seq} has a sealed query text but its entry commits to none: added"))
        elif hashlib.sha256(bytes(sealed)).hexdigest() != expected:
            problems.append(
                Problem(seq, f"seq {seq}'s sealed query text does not match its entry's commitment: it was changed")
            )
    missing = sorted(unseen - walk.forgotten)
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        problems.append(
            Problem(
                missing[0],
                f"seq {missing[0]}{more}: the sealed query text is missing, and no audit.sealed_forget "
                "entry destroyed it: it was deleted outside joinedup",
            )
        )


def _signed_at_change(detail: str) -> bool:
    """Whether this settings entry was written by a joinedup that signs a checkpoint at every change.

    Those name the acting principal in their detail; older ones do not, and carry no checkpoint of their own.
    """
    try:
        return "acting" in json.loads(detail)
    except (ValueError, TypeError):
        return False


_AUDIT_TABLES = ("audit_entries", "audit_head", "audit_checkpoints")


def _missing_tables(conn: sa.Connection) -> list[str]:
    inspector = sa.inspect(conn)
    return [table for table in _AUDIT_TABLES if not inspector.has_table(table)]


def _interval_set(detail: str, current: int) -> int:
    try:
        value = json.loads(detail).get("checkpoint_every")
    except (ValueError, AttributeError):
        return current
    return value if isinstance(value, int) and value >= 1 else current


def _check_head(report: VerifyReport, before: Any, after: Any, found: dict[int, str]) -> None:
    if before is None or after is None:
        report.problems.append(Problem(None, "the audit head row is missing: the log's table was tampered with"))
        return
    if report.last_seq < before.seq:
        report.problems.append(
            Problem(
                report.last_seq + 1,
                f"the log ends at seq {report.last_seq} but its head records "
                f"seq {before.seq}: entries after {report.last_seq} were removed",
            )
        )
    if report.last_seq > after.seq:
        report.problems.append(
            Problem(
                after.seq + 1,
                f"entries after seq {after.seq} lie beyond the log's head: they were added outside joinedup",
            )
        )
    if report.last_seq == before.seq == after.seq and report.last_hash != after.hash:
        report.problems.append(
            Problem(report.last_seq, f"seq {report.last_seq} does not match the hash the log's head recorded for it")
        )


def _check_coverage(report: VerifyReport, stored: list[Checkpoint], interval: int) -> None:
    """A checkpoint is signed every ``interval`` entries, so one must cover all but the newest few.

    Without this, someone who can write the catalogue could delete an entry,
    re-hash everything after it and delete the stored checkpoints, and the chain
    alone would look whole.
    """
    newest = max((c.seq for c in stored), default=0)
    if report.last_seq - newest >= interval:
        report.problems.append(
            Problem(
                newest + 1,
                f"no signed checkpoint covers seqs {newest + 1} to {report.last_seq}, though one is signed every "
                f"{interval} entries: stored checkpoints were deleted, and the log after seq {newest} may have been "
                "rewritten (if [audit] checkpoint_every was just lowered, run `joinedup audit checkpoint`)",
            )
        )


def _check_head_mac(report: VerifyReport, key: ChainKey, head: Any) -> None:
    if head is None:
        return
    if head.mac is None and head.seq == key.from_seq - 1:
        return  # the chain key was made, and nothing has been written with it yet
    if (
        head.mac is None
        or head.checkpoint_every is None
        or not hmac.compare_digest(head.mac, key.head_mac(head.seq, head.hash, head.checkpoint_every))
    ):
        report.problems.append(
            Problem(
                head.seq + 1,
                f"the log's head (seq {head.seq}) does not carry the chain key's MAC: it was set outside joinedup, "
                f"and entries after seq {head.seq} may have been removed",
            )
        )


def _check_due(report: VerifyReport, due: list[int], signed: set[int], estate: Estate) -> None:
    """A checkpoint falls due every ``checkpoint_every`` entries (as the log recorded it); each must be stored."""
    missing = [seq for seq in due if seq not in signed]
    if not missing:
        return
    more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
    if (estate.keys_dir / PRIVATE_KEY_FILE).exists():
        message = (
            "the signing key exists but stored checkpoints are missing "
            f"or fewer than expected: none at seq {missing[0]}{more}; "
            "they were deleted from the catalogue (or never signed because the log did not verify)"
        )
    else:
        message = (
            f"checkpoints fell due (at seq {missing[0]}{more}) but the signing key keys/{PRIVATE_KEY_FILE} is missing"
        )
    report.problems.append(Problem(missing[0], message))


def _check_checkpoint(
    report: VerifyReport, made: Checkpoint, found: dict[int, str], trusted_hex: str | None, what: str
) -> None:
    if not made.signature_valid():
        report.problems.append(
            Problem(
                made.seq, f"{what} at seq {made.seq} has a signature that does not verify: it was forged or altered"
            )
        )
    elif trusted_hex is None:
        report.problems.append(
            Problem(
                None,
                f"{what} at seq {made.seq} is signed, but the estate's public key (keys/audit-signing.pub) is missing",
            )
        )
    elif made.public_key != trusted_hex:
        report.problems.append(
            Problem(
                made.seq,
                f"{what} at seq {made.seq} was signed by a different key "
                "than this estate's: the log or its key was replaced",
            )
        )
    if made.seq > report.last_seq:
        report.problems.append(
            Problem(
                report.last_seq + 1,
                f"{what} vouches for seq {made.seq} but the log ends at seq "
                f"{report.last_seq}: entries after {report.last_seq} were removed",
            )
        )
    elif made.seq in found and found[made.seq] != made.hash:
        report.problems.append(
            Problem(made.seq, f"seq {made.seq} differs from {what} signed for it: the log was rewritten up to there")
        )
    elif made.seq not in found and made.seq > 0:
        report.problems.append(Problem(made.seq, f"seq {made.seq}, which {what} vouches for, is missing"))
