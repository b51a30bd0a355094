"""Spoiling good values the ways legacy systems do: messy but valid, or wrong.

Messy values (``messy_*``) standardise to valid ones and must be loaded. Wrong
values are checked against the standards reference before they are used, so a
planted error is always a real error.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date

from joinedup.standards import generate, reference


def seed_of(stream: str, seed: int) -> str:
    """A seed for one named stream; ``random.Random`` hashes a string seed stably (SHA-512)."""
    return f"{stream}:{seed}"


def invalid(rule: Callable[[str], str | None], rng: random.Random, candidates: list[str]) -> str:
    """A candidate the reference rule rejects, chosen at random."""
    rng.shuffle(candidates)
    for value in candidates:
        if rule(value) is None:
            return value
    raise AssertionError(f"none of {candidates} is invalid")


def messy_name(name: str, r: float) -> str:
    """``r`` is a uniform draw; most names come back unchanged."""
    if r < 0.03:
        return name.upper()
    if r < 0.04:
        return name.lower()
    if r < 0.05:
        return f" {name}"
    if r < 0.06:
        return f"{name}  "
    if r < 0.065:
        return name.replace(" ", "  ") if " " in name else f"{name} "
    return name


def messy_postcode(postcode: str, r: float) -> str:
    """Lower case, no space or two spaces; sometimes blank (no address held)."""
    if r < 0.08:
        return postcode.lower()
    if r < 0.16:
        return postcode.replace(" ", "")
    if r < 0.18:
        return postcode.replace(" ", "").lower()
    if r < 0.19:
        return postcode.replace(" ", "  ")
    if r < 0.20:
        return ""
    return postcode


def bad_postcode(rng: random.Random) -> str:
    outward, inward = generate.postcode(rng).split(" ")
    return invalid(
        reference.canonical_postcode,
        rng,
        [
            f"{outward} {inward[:2]}",  # inward code cut short
            f"{outward} {inward}{rng.choice('ABD')}",  # a letter too many
            f"{outward} {inward[0]}C{inward[2]}",  # C is never used in an inward code
            f"{outward}{inward[1:]}",  # the inward digit lost
            "NFA",  # "no fixed abode", typed into the postcode field
            "TBC",
        ],
    )


def bad_gss_code(good: str, rng: random.Random) -> str:
    return invalid(
        reference.canonical_gss_code,
        rng,
        [
            good[:3] + good[4:],  # a digit lost
            good[:3] + good[3:].replace("0", "O"),  # letter O typed for zero
            "X" + good[1:],  # not a country letter
            good[:3] + "-" + good[3:],
            rng.choice(("Leeds", "Cardiff", "Fife", "Barnet")),  # the area's name, not its code
        ],
    )


def impossible_date(year: int, rng: random.Random) -> str:
    non_leap = year + 1 if year % 4 == 0 else year
    return invalid(
        reference.canonical_iso_date,
        rng,
        [
            f"{year}-02-30",
            f"{year}-02-31",
            f"{year}-04-31",
            f"{year}-09-31",
            f"{year}-13-0{rng.randint(1, 9)}",
            f"{non_leap}-02-29",
        ],
    )


def uk_date(iso: str) -> str:
    """``1975-08-09`` as a UK system prints it, ``09/08/1975``: not ISO 8601, so not a valid date here."""
    return date.fromisoformat(iso).strftime("%d/%m/%Y")
