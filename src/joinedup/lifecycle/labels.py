"""Numbers as people type them: a request ``R12``, a hold ``H3``, a row key ``1:42``.

Only ASCII digits count (``int`` also takes ``١٢`` and ``str.isdigit`` passes
``²``, which ``int`` then refuses), and a number must fit the catalogue's 64-bit
integers, so a typo becomes one clear line instead of a crash or another record.
"""

from __future__ import annotations

import re

from joinedup.errors import InputError

#: The largest value a catalogue (SQLite or PostgreSQL BIGINT) integer holds.
_MAX = 2**63 - 1
_LABEL = re.compile(r"([A-Za-z]?)([0-9]+)", re.ASCII)


def parse_label(text: str, prefix: str, what: str) -> int:
    """``R12``, ``r12`` or ``12`` (for ``prefix`` R) as 12; one line naming ``what`` for anything else."""
    found = _LABEL.fullmatch(text.strip())
    if not found or found.group(1).upper() not in ("", prefix.upper()) or int(found.group(2)) > _MAX:
        raise InputError(f"{what} {text!r}: expected a {what} number such as {prefix}12")
    return int(found.group(2))


def parse_row(text: str) -> tuple[int, int]:
    """``INGEST:ROW`` (as ``subject find`` shows it) as two numbers."""
    parts = text.split(":")
    if len(parts) != 2 or not all(re.fullmatch(r"[0-9]+", p.strip(), re.ASCII) for p in parts):
        raise InputError(f"--row {text!r}: expected INGEST:ROW as `subject find` shows it, e.g. 1:42")
    ingest, row = int(parts[0]), int(parts[1])
    if ingest > _MAX or row > _MAX:
        raise InputError(f"--row {text!r}: no row has a key that large; use one `subject find` lists")
    return ingest, row
