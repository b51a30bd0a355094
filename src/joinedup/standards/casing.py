"""Character case mapping the way DuckDB's ``upper`` and ``lower`` do it.

DuckDB maps one code point to one code point (Unicode's simple case mapping).
Python's ``str.upper`` uses the full mapping, which turns some characters into
several (``ß`` -> ``SS``) and lowers a final sigma by context, so names would
come out differently on the two paths. Python does not expose the simple
mapping, so it is rebuilt here; a test compares every code point with DuckDB.
"""

from __future__ import annotations

# Where the full mapping expands and the title-case form does not help either,
# DuckDB still maps these two; every other such character is left unchanged.
_UPPER_EXCEPTIONS = {"ß": "ẞ"}
_LOWER_EXCEPTIONS = {"İ": "i"}


def upper_char(ch: str) -> str:
    upper = ch.upper()
    if len(upper) == 1:
        return upper
    # The title-case form is the simple mapping for Greek letters with iota subscript.
    title = ch.title()
    if len(title) == 1:
        return title
    return _UPPER_EXCEPTIONS.get(ch, ch)


def lower_char(ch: str) -> str:
    lower = ch.lower()
    return lower if len(lower) == 1 else _LOWER_EXCEPTIONS.get(ch, ch)


def lower(text: str) -> str:
    return "".join(lower_char(ch) for ch in text)


def upper(text: str) -> str:
    return "".join(upper_char(ch) for ch in text)
