"""Pools of names and places drawn from Faker once, then sampled per row.

Calling Faker for every row would cost tens of microseconds each time; a
million rows would take minutes. Drawing a few thousand values up front keeps
Faker's en_GB frequencies (common names repeat in the pool) and lets each row
cost a handful of ``random.Random`` calls.
"""

from __future__ import annotations

import functools
import itertools
import random
from dataclasses import dataclass

from faker import Faker

from joinedup.standards import generate

#: Names that need more than ASCII, all of which Windows-1252 can encode, so a
#: cp1252 export exercises the encoding path without failing to write.
NON_ASCII_GIVEN = ("Siobhán", "Zoë", "Seán", "Chloë", "Ciarán", "Róisín", "Renée", "José", "Zoé", "Aoibhín", "Noël")
NON_ASCII_FAMILY = ("O’Brien", "O’Neill", "D’Souza", "Ó Súilleabháin", "Müller", "Núñez", "Gómez", "Brontë", "Ó Briain")

#: Local authority geographies: unitary authorities, non-metropolitan districts,
#: metropolitan districts, London boroughs, Welsh principal areas, Scottish councils.
LOCAL_AUTHORITY_ENTITIES = ("E06", "E07", "E08", "E09", "W06", "S12")

_NAME_DRAWS = 2000
_STREET_DRAWS = 1500
_COMPANY_DRAWS = 3000
_POSTCODES = 20_000
_LOCAL_AUTHORITIES = 40


@dataclass(frozen=True)
class Pools:
    female: tuple[str, ...]
    male: tuple[str, ...]
    surnames: tuple[str, ...]
    streets: tuple[str, ...]
    companies: tuple[str, ...]
    postcodes: tuple[str, ...]
    #: Local authority GSS codes, the first the most common (a council's own area).
    local_authorities: tuple[str, ...]
    #: Cumulative weights for ``local_authorities``: Zipf-like, as a council's records mostly sit in its own area.
    local_authority_weights: tuple[float, ...]


@functools.lru_cache(maxsize=4)
def pools(seed: int) -> Pools:
    """The pools for a seed; the same seed gives the same pools (for one Faker version)."""
    fake = Faker("en_GB")
    fake.seed_instance(seed)
    rng = random.Random(f"pools-{seed}")
    female = tuple(fake.first_name_female() for _ in range(_NAME_DRAWS))
    male = tuple(fake.first_name_male() for _ in range(_NAME_DRAWS))
    surnames = tuple(fake.last_name() for _ in range(_NAME_DRAWS))
    streets = tuple(fake.street_name() for _ in range(_STREET_DRAWS))
    companies = tuple(_company_name(fake, rng) for _ in range(_COMPANY_DRAWS))
    postcodes = tuple(generate.postcode(rng) for _ in range(_POSTCODES))
    authorities = _local_authorities(rng)
    weights = tuple(itertools.accumulate(1 / (rank + 1) for rank in range(len(authorities))))
    return Pools(female, male, surnames, streets, companies, postcodes, authorities, weights)


def _local_authorities(rng: random.Random) -> tuple[str, ...]:
    found: dict[str, None] = {}
    while len(found) < _LOCAL_AUTHORITIES:
        # The standards generator draws every kind of geography; only local authorities belong here.
        code = generate.gss_code(rng)
        if code[:3] in LOCAL_AUTHORITY_ENTITIES:
            found[code] = None
    return tuple(found)


# Faker's en_GB company suffixes include US forms (Inc, LLC); these are the forms on the UK register.
_COMPANY_SUFFIXES = ("Ltd", "Limited", "Ltd", "Ltd", "PLC", "LLP", "& Co Ltd", "and Sons Ltd")
_TRADES = (
    "Building", "Plumbing", "Electrical", "Cleaning", "Catering", "Consulting", "Motors", "Joinery",
    "Logistics", "Care Services", "Roofing", "Landscapes", "Accountancy", "Dental", "Bakery", "Printing",
)  # fmt: skip


def _company_name(fake: Faker, rng: random.Random) -> str:
    form = rng.random()
    if form < 0.45:
        return f"{fake.last_name()} {rng.choice(_TRADES)} {rng.choice(_COMPANY_SUFFIXES)}"
    if form < 0.75:
        return f"{fake.last_name()} {rng.choice(_COMPANY_SUFFIXES)}"
    if form < 0.9:
        return f"{fake.last_name()} & {fake.last_name()} {rng.choice(_COMPANY_SUFFIXES)}"
    return f"{fake.city()} {rng.choice(_TRADES)} {rng.choice(_COMPANY_SUFFIXES)}"
