"""One synthetic UK population seen by two systems, with the ground truth of who is who: for linkage.

Households share a family name, an address and a postcode: couples, children,
twins (one date of birth, two given names) and juniors named after a parent.
Each system holds most of the population, with realistic corruption: nicknames
and variant spellings (Sam/Samantha, Dai/David, Mohammed/Muhammad), typos,
swapped given and family names, day and month swapped, people who moved,
missing and mistyped NHS numbers, and duplicates within a system.
``truth.csv`` gives every record's true person (``dataset,id,cluster``).
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from nicknames import NickNamer

from joinedup.standards import generate
from joinedup.synthetic.pools import pools
from joinedup.synthetic.schemas import REFERENCE_DATE, write_schema

#: Variants the nicknames package lacks (formal, variant), as the UK writes them.
_UK_VARIANTS = {
    "David": ("Dai", "Dafydd", "Dewi"), "James": ("Hamish", "Seamus"), "John": ("Sean", "Ian", "Iain", "Evan"),
    "Jane": ("Sian", "Sinead"), "Mohammed": ("Muhammad", "Mohamed", "Mohammad"), "William": ("Gwilym", "Liam"),
    "Hugh": ("Huw",), "Joan": ("Siobhan",), "Mary": ("Mair", "Moira"), "Patrick": ("Padraig",),
}  # fmt: skip
DATASETS = ("council", "gp")
COLUMNS = ("id", "given_name", "family_name", "date_of_birth", "sex", "address_line", "postcode", "nhs_number")


@dataclass
class Person:
    cluster: int
    given: str
    family: str
    born: date
    sex: str
    address: str
    postcode: str
    nhs: str


@dataclass(frozen=True)
class Rates:
    """How often each corruption happens to one record."""

    coverage: float = 0.8
    nickname: float = 0.08
    typo_given: float = 0.04
    typo_family: float = 0.04
    swapped_names: float = 0.01
    swapped_day_month: float = 0.02
    typo_birth: float = 0.03
    moved: float = 0.08
    missing_nhs: float = 0.25
    typo_nhs: float = 0.01
    duplicate: float = 0.03
    #: Variant-ready given names (those with known nicknames) for this share of people.
    formal_names: float = 0.3


def population(n: int, seed: int = 0) -> list[Person]:
    """``n`` people in households, deterministic for a seed."""
    rng = random.Random(f"population-{seed}")
    p = pools(seed)
    formal = _formal_names()
    people: list[Person] = []
    while len(people) < n:
        family = rng.choice(p.surnames)
        address = f"{rng.randint(1, 250)} {rng.choice(p.streets)}"
        postcode = rng.choice(p.postcodes)
        parent_born = REFERENCE_DATE - timedelta(days=rng.randint(20 * 365, 80 * 365))
        size = rng.choices((1, 2, 3, 4, 5), (30, 30, 18, 15, 7))[0]
        adults = min(size, rng.choice((1, 2)))
        members: list[tuple[str, date, str]] = []
        for a in range(adults):
            sex = "F" if (a == 0 and rng.random() < 0.5) or a == 1 else "M"
            given = _given(rng, p, sex, formal)
            members.append((given, parent_born + timedelta(days=rng.randint(-2000, 2000)), sex))
        children = size - adults
        for c in range(children):
            sex = rng.choice("FM")
            youngest = (REFERENCE_DATE - parent_born).days - 30
            born = parent_born + timedelta(days=rng.randint(min(18 * 365, youngest), min(40 * 365, youngest)))
            if c and rng.random() < 0.08:
                born = members[-1][1]  # a twin: same date of birth, another given name
            given = _given(rng, p, sex, formal)
            if rng.random() < 0.05 and members[0][2] == sex:
                given = members[0][0]  # a junior named after the parent
            members.append((given, born, sex))
        for given, born, sex in members:
            people.append(Person(len(people), given, family, born, sex, address, postcode, generate.nhs_number(rng)))
    return people[:n]


def _formal_names() -> tuple[str, ...]:
    namer = NickNamer()
    common = ("Samantha", "Samuel", "William", "Robert", "Elizabeth", "Katherine", "Margaret", "Richard", "Thomas",
              "Alexander", "Christopher", "Jennifer", "Michael", "Nicholas", "Patricia", "Rebecca", "Jonathan",
              "Daniel", "Joseph", "Matthew", "Victoria", "Anthony", "Edward", "Benjamin", "Abigail")  # fmt: skip
    return tuple(n for n in common if namer.nicknames_of(n.lower())) + tuple(_UK_VARIANTS)


def _given(rng: random.Random, p: object, sex: str, formal: tuple[str, ...]) -> str:
    pool = p.female if sex == "F" else p.male  # type: ignore[attr-defined]
    if rng.random() < Rates.formal_names:
        return rng.choice(formal)
    return str(rng.choice(pool))


def _variant(rng: random.Random, name: str, namer: NickNamer) -> str:
    options = sorted(namer.nicknames_of(name.lower())) + list(_UK_VARIANTS.get(name, ()))
    return rng.choice(options).capitalize() if options else name


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 3:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.random()
    if kind < 0.33:
        return text[:i] + text[i + 1 :]  # dropped letter
    if kind < 0.66:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]  # transposed
    return text[:i] + rng.choice("aeioulnrst") + text[i + 1 :]  # wrong letter


def _record(rng: random.Random, person: Person, rates: Rates, namer: NickNamer, p: object) -> list[str]:
    given, family, born = person.given, person.family, person.born
    address, postcode, nhs = person.address, person.postcode, person.nhs
    if rng.random() < rates.nickname:
        given = _variant(rng, given, namer)
    if rng.random() < rates.typo_given:
        given = _typo(rng, given)
    if rng.random() < rates.typo_family:
        family = _typo(rng, family)
    if rng.random() < rates.swapped_names:
        given, family = family, given
    text = born.isoformat()
    if rng.random() < rates.swapped_day_month and born.day <= 12 and born.day != born.month:
        text = f"{born.year:04d}-{born.day:02d}-{born.month:02d}"
    elif rng.random() < rates.typo_birth:
        digits = list(text)
        at = rng.choice((3, 6, 9))
        digits[at] = str((int(digits[at]) + rng.randint(1, 8)) % 10)
        candidate = "".join(digits)
        text = candidate if _valid_date(candidate) else text
    if rng.random() < rates.moved:
        address = f"{rng.randint(1, 250)} {rng.choice(p.streets)}"  # type: ignore[attr-defined]
        postcode = rng.choice(p.postcodes)  # type: ignore[attr-defined]
    if rng.random() < rates.missing_nhs:
        nhs = ""
    elif rng.random() < rates.typo_nhs:
        nhs = generate.nhs_number(rng)  # mistyped into another valid number
    return [given, family, text, person.sex, address, postcode, nhs]


def _valid_date(text: str) -> bool:
    try:
        return date.fromisoformat(text) <= REFERENCE_DATE
    except ValueError:
        return False


def write_population(out: Path, n: int, *, seed: int = 0, rates: Rates | None = None) -> dict[str, int]:
    """Write ``council.csv``, ``gp.csv``, their schemas and ``truth.csv`` into ``out``; counts of records written."""
    rates = rates or Rates()
    out.mkdir(parents=True, exist_ok=True)
    people = population(n, seed)
    namer = NickNamer()
    p = pools(seed)
    counts: dict[str, int] = {}
    with open(out / "truth.csv", "w", newline="", encoding="utf-8") as truth_file:
        truth = csv.writer(truth_file)
        truth.writerow(["dataset", "id", "cluster"])
        for d, name in enumerate(DATASETS):
            rng = random.Random(f"{name}-{seed}")
            prefix = name[0].upper()
            written = 0
            with open(out / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(COLUMNS)
                for person in people:
                    if rng.random() >= rates.coverage:
                        continue
                    copies = 2 if rng.random() < rates.duplicate else 1
                    for _ in range(copies):
                        written += 1
                        record_id = f"{prefix}{written:08d}"
                        w.writerow([record_id, *_record(rng, person, rates, namer, p)])
                        truth.writerow([name, record_id, person.cluster])
            write_schema(out / f"{name}.yaml", population_schema(f"{name.upper()} register (synthetic)", d))
            counts[name] = written
    return counts


def population_schema(title: str, _: int = 0) -> dict[str, object]:
    def personal(name: str, kind: str, category: str, **more: object) -> dict[str, object]:
        return {"name": name, "type": kind, "personal": True, "category": category, **more}

    return {
        "title": title,
        "fields": [
            {"name": "id", "type": "string", "constraints": {"required": True, "unique": True}},
            personal("given_name", "string", "name", format="person_name"),
            personal("family_name", "string", "name", format="person_name"),
            personal("date_of_birth", "date", "date_of_birth"),
            {"name": "sex", "type": "string", "constraints": {"enum": ["M", "F", "X", "U"]}},
            personal("address_line", "string", "address"),
            personal("postcode", "postcode", "address"),
            personal("nhs_number", "nhs_number", "identifier"),
        ],
        "primaryKey": ["id"],
    }
