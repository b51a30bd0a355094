"""Taking identifiers out of what an entry describes, keeping keyed hashes in their place.

A query's SQL is the usual carrier: ``WHERE nhs_number = '9434765919'`` would put
the number in the log. Every string and numeric literal becomes ``?`` and its
keyed hashes (one per identifier kind it is valid as) are kept, so
who-accessed still finds the query. Free text (a purpose, a detail value) has
anything that checks out as an NHS or NI number replaced the same way. Names
cannot be recognised in free text, which is why detail is for counts, versions
and file hashes, never for values from the data.
"""

from __future__ import annotations

import functools
import re
import secrets
import unicodedata
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import duckdb

from joinedup.audit.subjects import candidate_hashes, canonical_identifier, subject_hash
from joinedup.standards import install_macros

#: Shown instead of a query DuckDB cannot split into tokens (so its literals cannot be found).
UNREADABLE_SQL = "(query text not kept: it could not be split into tokens)"

#: What people put between the parts of an identifier: a run of up to five characters that are not letters or
#: digits (blanks, dots, commas, colons, bars, brackets, every kind of dash: "(943) 476-5919", "943    476").
_SEP = r"[\W_]{0,5}"
#: A letter in any script or width (``Ａ`` as well as ``A``).
_LETTER = r"[^\W\d_]"
#: Shapes worth checking, in any digits (full-width ``９`` too) and glued to the
#: text around them (``NHS9434765919``); only other digits may not touch them, so
#: a longer number is not cut up. The standards' rules decide whether a match is an identifier.
_IDENTIFIER_SHAPES = (
    ("nhs_number", re.compile(r"(?<!\d)\d(?:" + _SEP + r"\d){9}(?!\d)")),
    ("ni_number", re.compile(_LETTER + _SEP + _LETTER + "(?:" + _SEP + r"\d){6}" + _SEP + _LETTER + r"(?!\d)")),
)
#: Hex digests (file hashes, keyed hashes) are kept whole: a run of digits inside one is not a number someone typed.
_ASCII_DIGIT = re.compile(r"[0-9]")
_DIGEST = re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{32,}(?![0-9A-Za-z])")


_LITERALS = frozenset({duckdb.token_type.string_const, duckdb.token_type.numeric_const})
_COMMENT = duckdb.token_type.comment
_IDENTIFIER = duckdb.token_type.identifier


@dataclass
class Redacted:
    text: str
    #: Keyed hashes of what was taken out, sorted and without repeats.
    hashes: list[str] = field(default_factory=list)


def redact_text(secret: bytes, text: str) -> Redacted:
    """``text`` with each NHS and NI number replaced by ``[nhs number]`` / ``[ni number]``, however it is written.

    The one identifier detector: every free-text field of an entry goes through it.
    """
    if not (_ASCII_DIGIT.search(text) if text.isascii() else any(ch.isnumeric() for ch in text)):
        return Redacted(text)  # every identifier has digits (in some form); most text an append stores has none
    if len(text) <= _CACHED_LENGTH:
        # The same short texts (a client's id, an agreement's purpose) come with every API read; scanning one
        # costs tens of microseconds, a lookup well under one.
        kept, found = _redact_short(secret, text)
        return Redacted(kept, list(found))
    return _redact(secret, text)


#: Texts up to this long are remembered (at most _CACHED_TEXTS of them), so the cache's memory stays bounded.
_CACHED_LENGTH = 200
_CACHED_TEXTS = 4096


@functools.lru_cache(maxsize=_CACHED_TEXTS)
def _redact_short(secret: bytes, text: str) -> tuple[str, tuple[str, ...]]:
    redacted = _redact(secret, text)
    return redacted.text, tuple(redacted.hashes)


def _redact(secret: bytes, text: str) -> Redacted:
    hashes: set[str] = set()
    pieces = []
    kept = 0
    for digest in _DIGEST.finditer(text):
        pieces.append(_redact_piece(secret, text[kept : digest.start()], hashes))
        pieces.append(digest.group())
        kept = digest.end()
    pieces.append(_redact_piece(secret, text[kept:], hashes))
    return Redacted("".join(pieces), sorted(hashes))


def _redact_piece(secret: bytes, text: str, hashes: set[str]) -> str:
    # Matched on the NFKC form (superscript and full-width digits become 0-9), replaced in the text as written.
    folded, origin = _folded(text)
    spans: list[tuple[int, int, str]] = []
    for kind, shape in _IDENTIFIER_SHAPES:
        for match in shape.finditer(folded):
            start, end = origin[match.start()], origin[match.end() - 1] + 1
            if any(start < e and s < end for s, e, _ in spans):
                continue  # already taken out as the other kind
            compact = _compact(match.group())
            if canonical_identifier(kind, compact) is None:
                continue
            hashes.add(subject_hash(secret, kind, compact))
            spans.append((start, end, f"[{kind.replace('_', ' ')}]"))
    for start, end, label in sorted(spans, reverse=True):
        text = text[:start] + label + text[end:]
    return text


def _folded(text: str) -> tuple[str, list[int]]:
    """``text`` NFKC-normalised character by character, and for each folded character the index it came from."""
    folded: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        normal = unicodedata.normalize("NFKC", ch) if not ch.isascii() else ch
        folded.append(normal)
        origin.extend([index] * len(normal))
    return "".join(folded), origin


def _compact(found: str) -> str:
    """The letters and digits of ``found`` in plain ASCII (``ＡＢ１２`` → ``AB12``), separators dropped."""
    out = []
    for ch in found:
        if ch.isdecimal():
            out.append(str(unicodedata.decimal(ch)))
        elif ch.isalpha():
            out.append(unicodedata.normalize("NFKC", ch).upper())
    return "".join(out)


def contains_identifier(text: str) -> bool:
    """True when ``text`` holds an NHS or NI number in any form the detector knows."""
    return redact_text(b"", text).hashes != []


def opaque_id(prefix: str, nbytes: int, *, upper: bool = False) -> str:
    """``prefix`` and ``nbytes`` random bytes in hex, never one the detector takes for an NHS or NI number.

    Ids the system makes (an API client's, a linked person's key) go into audit entries
    and logs. Random hex can read as an identifier: ten digits in a row pass the NHS
    checksum one time in eleven, and letters a-f around six digits can make an NI number
    (``ce123456a``): about one client id in a hundred would be redacted wherever it is written,
    and counted as touching that person. Such a draw is drawn again.
    """
    while True:
        text = secrets.token_hex(nbytes)
        candidate = prefix + (text.upper() if upper else text)
        if not contains_identifier(candidate):
            return candidate


def redact_sql(secret: bytes, sql: str, names: Collection[str] | None = None) -> Redacted:
    """``sql`` with literals as ``?``, comments dropped, and the literals' keyed hashes.

    With ``names`` (the dataset and column names the query may use), every other
    identifier that is not a DuckDB function or type name (an alias, a quoted
    name) becomes ``?`` too: an alias is text someone typed and can be a person's name.
    """
    try:
        tokens = duckdb.tokenize(sql)
    except Exception:
        return Redacted(UNREADABLE_SQL)
    allowed = None if names is None else {n.lower() for n in names} | _duckdb_words()
    hashes: set[str] = set()
    parts: list[str] = []
    # DuckDB gives token positions in UTF-8 bytes, not characters.
    raw = sql.encode("utf-8")
    ends = [start for start, _ in tokens[1:]] + [len(raw)]
    for (start, kind), end in zip(tokens, ends, strict=True):
        piece = raw[start:end].decode("utf-8", errors="replace")
        token = piece.rstrip()
        spacing = " " if len(token) < len(piece) else ""
        if kind in _LITERALS and any(ch.isalnum() for ch in token):  # DuckDB calls a lone "." numeric
            hashes.update(candidate_hashes(secret, _literal_value(token)))
            parts.append("?" + spacing)
        elif kind == _COMMENT:
            # Comments are free text a person typed: they may name someone.
            parts.append(" ")
        elif kind == _IDENTIFIER and allowed is not None and _unquoted(token).lower() not in allowed:
            hashes.update(candidate_hashes(secret, _unquoted(token)))
            parts.append("?" + spacing)
        else:
            parts.append(token + spacing)
    # Quoted identifiers can hold anything, so the tokenised text gets the free-text pass too.
    rest = redact_text(secret, "".join(parts).strip())
    return Redacted(rest.text, sorted(hashes.union(rest.hashes)))


def redact_names(secret: bytes, names: Iterable[str], known: Collection[str]) -> tuple[list[str], list[str]]:
    """Result column names with each that is not a known column name replaced by ``?``, and the keyed hashes.

    DuckDB names an unaliased expression after its text (``upper('Sam Jackson')``),
    and an alias can be anything, so only names of real columns are kept.
    """
    allowed = {n.lower() for n in known}
    hashes: set[str] = set()
    kept = []
    for name in names:
        if name.lower() in allowed:
            kept.append(name)
        else:
            hashes.update(candidate_hashes(secret, name))
            kept.append("?")
    return kept, sorted(hashes)


@functools.cache
def _duckdb_words() -> frozenset[str]:
    """Names of DuckDB's functions, types and keywords: identifiers that say nothing about anyone."""
    con = duckdb.connect()
    try:
        install_macros(con)  # joinedup's own jd_* rules are function names too, not people
        rows = con.execute(
            "SELECT function_name FROM duckdb_functions() UNION SELECT type_name FROM duckdb_types() "
            "UNION SELECT keyword_name FROM duckdb_keywords()"
        ).fetchall()
    finally:
        con.close()
    return frozenset(str(name).lower() for (name,) in rows)


def _unquoted(token: str) -> str:
    if len(token) >= 2 and token[0] == '"' and token[-1] == '"':
        return token[1:-1].replace('""', '"')
    return token


#: Values with no text in them (``bool`` is an ``int``, but checked by exact type here).
_PLAIN = frozenset({int, float, bool, type(None)})


def redact_detail(secret: bytes, detail: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``detail`` with identifiers taken out of every string in it, and their hashes."""
    hashes: set[str] = set()

    def clean(value: Any) -> Any:
        if type(value) in _PLAIN:
            return value  # the usual counts, versions and flags, without the abstract-type checks below
        if isinstance(value, str):
            redacted = redact_text(secret, value)
            hashes.update(redacted.hashes)
            return redacted.text
        if isinstance(value, Mapping):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return clean(detail), sorted(hashes)


def _literal_value(token: str) -> str:
    """The value a SQL literal stands for (near enough to canonicalise an identifier)."""
    if len(token) >= 2 and token[0] == "'" and token[-1] == "'":
        return token[1:-1].replace("''", "'")
    if len(token) >= 3 and token[0] in "eE" and token[1] == "'" and token[-1] == "'":
        return token[2:-1].replace("\\'", "'").replace("''", "'")
    if token.startswith("$"):
        tag_end = token.find("$", 1)
        if tag_end > 0:
            tag = token[: tag_end + 1]
            if token.endswith(tag) and len(token) >= 2 * len(tag):
                return token[len(tag) : -len(tag)]
    return token
