"""Reading every byte under the estate for a person's values: the proof that an erasure is real (invariant 2).

Each file is searched twice: its raw bytes (Delta logs, checkpoints, Parquet
footers and statistics, the catalogue with its free pages and journal, keys,
anything else), and, for Parquet files, every value decoded (compressed pages
and dictionaries hide text from a raw search). Matching ignores case. A hit is
reported by file and by the kind of value found, never by the value.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


@dataclass
class ScanResult:
    files: int = 0
    bytes: int = 0
    #: ``(file relative to the estate, kind of value)`` for every file still holding one.
    hits: list[tuple[str, str]] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.hits

    def to_dict(self) -> dict[str, object]:
        return {
            "files_read": self.files,
            "bytes_read": self.bytes,
            "clean": self.clean,
            "found": [{"file": f, "kind": k} for f, k in self.hits],
        }


def spellings(kind: str, value: str) -> list[str]:
    """The ways a value can be written in a file: canonical, as people type it (spaced, hyphenated)."""
    forms = {value}
    if kind == "nhs_number" and len(value) == 10:
        forms |= {f"{value[:3]} {value[3:6]} {value[6:]}", f"{value[:3]}-{value[3:6]}-{value[6:]}"}
    if kind == "ni_number" and len(value) == 9:
        forms.add(f"{value[:2]} {value[2:4]} {value[4:6]} {value[6:8]} {value[8]}")
    return sorted(forms)


def patterns_for(details: Iterable[tuple[str, str]]) -> dict[str, str]:
    """``{lower-case spelling: kind}`` for the identifiers and the name among ``details``."""
    found: dict[str, str] = {}
    for kind, value in details:
        if kind in ("nhs_number", "ni_number", "name"):
            for form in spellings(kind, value):
                # A name's accents may be one code point or a letter and a combining mark (NFC or NFD).
                for normal in ("NFC", "NFD"):
                    found[unicodedata.normalize(normal, form.lower())] = kind
    return found


def scan(root: Path, patterns: dict[str, str], *, only: Iterable[Path] | None = None) -> ScanResult:
    """Search every file under ``root`` (or just ``only``) for any of ``patterns`` (``{spelling: kind}``)."""
    result = ScanResult()
    if not patterns:
        return result
    # Raw bytes lowered byte by byte: exact for ASCII, and matches a UTF-8 spelling whose other letters agree.
    automaton = _automaton({spelling.encode().decode("latin-1"): kind for spelling, kind in patterns.items()})
    # Letters outside ASCII change case only once decoded: searched again as UTF-8 text and as Latin-1 text.
    wide = {spelling: kind for spelling, kind in patterns.items() if not spelling.isascii()}
    unicode_automaton = _automaton(wide) if wide else None
    regex = "|".join(re.escape(p) for p in sorted(patterns, key=len, reverse=True))
    for path in only if only is not None else _files(root):
        if not path.is_file():
            continue
        result.files += 1
        data = path.read_bytes()
        result.bytes += len(data)
        kinds = {kind for _, kind in automaton.iter(data.lower().decode("latin-1"))}
        if unicode_automaton is not None:
            for encoding in ("utf-8", "latin-1"):
                text = data.decode(encoding, errors="replace").lower()
                kinds |= {kind for _, kind in unicode_automaton.iter(text)}
        if path.suffix == ".parquet":
            kinds |= _decoded_hits(path, regex, patterns)
        result.hits += [(str(path.relative_to(root)), kind) for kind in sorted(kinds)]
    return result


def _automaton(words: dict[str, str]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for word, kind in words.items():
        automaton.add_word(word, kind)
    automaton.make_automaton()
    return automaton


def _files(root: Path) -> Iterator[Path]:
    for folder, _, names in os.walk(root):
        for name in sorted(names):
            yield Path(folder) / name


def _decoded_hits(path: Path, regex: str, patterns: dict[str, str]) -> set[str]:
    """The kinds of value any decoded cell of the Parquet file holds."""
    try:
        table = pq.read_table(path)
    except Exception:
        return {"unreadable parquet"}  # cannot prove it clean: report it
    kinds: set[str] = set()
    for column in table.columns:
        for leaf in _leaves(column.combine_chunks()):
            text = leaf if pa.types.is_string(leaf.type) or pa.types.is_large_string(leaf.type) else None
            if text is None:
                try:
                    text = pc.cast(leaf, pa.string())
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    continue
            hit = pc.match_substring_regex(text, regex, ignore_case=True)
            if pc.any(hit).as_py():
                matched = pc.filter(text, hit)
                kinds |= {
                    kind
                    for value in matched.to_pylist()[:100]
                    for spelling, kind in patterns.items()
                    if spelling in value.lower()
                }
    return kinds


def _leaves(array: pa.Array) -> Iterator[pa.Array]:
    """The primitive arrays inside a (possibly nested) column."""
    kind = array.type
    if pa.types.is_struct(kind):
        for i in range(kind.num_fields):
            yield from _leaves(array.field(i))
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        yield from _leaves(array.flatten())
    elif pa.types.is_map(kind):
        yield from _leaves(array.keys)
        yield from _leaves(array.items)
    elif pa.types.is_dictionary(kind):
        yield array.dictionary
    else:
        yield array
